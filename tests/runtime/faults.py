"""Fault injection for the runtime scenarios: a continuously logging client and a kubelet-style watch of a
container's probes while something is down (stopping PostgreSQL, MinIO or the server is the scenario's).

``LoggingClient`` runs ``client_scripts/continuous_logging.py`` in the background and reads its journal
(one line per ``log_metric`` call: step, start, end, ok/error, urllib3 retries). ``ProbeWatch`` runs a
container's probes every second in a thread and reports the longest stretch each failed.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from client_venv import BackgroundClient, ClientFailed
from pod_probes import probe_once

# --------------------------------------------------------------------------------------------------
# The logging client
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the client was told while a fault happened, and how long until it was served again."""

    acknowledged: list[int]  # steps whose log_metric returned
    failed: list[dict]  # journal entries of calls that raised
    retried: int  # acknowledged calls that urllib3 had to retry
    retries: int  # retries in all
    recovery_seconds: float  # from ``recovered_at`` to the end of the first acknowledged call after it
    slowest_seconds: float  # the longest acknowledged call (the stall a retried call saw)
    median_seconds: float

    def figures(self) -> str:
        return (
            f"{len(self.acknowledged)} acknowledged, {len(self.failed)} failed, {self.retried} retried "
            f"({self.retries} retries), recovered {self.recovery_seconds:.1f} s, slowest call "
            f"{self.slowest_seconds:.1f} s, median {self.median_seconds * 1000:.0f} ms"
        )


class LoggingClient:
    """``continuous_logging.py`` in the client venv, in the background (context manager)."""

    def __init__(
        self,
        url: str,
        workdir: Path,
        hosts: Iterable[str] = (),
        interval: float = 0.05,
        env: dict[str, str] | None = None,
    ) -> None:
        self.url, self.workdir, self.hosts, self.interval = url, workdir, list(hosts), interval
        self.env = env
        self.journal, self._stop = workdir / "journal.jsonl", workdir / "stop"
        self._client: BackgroundClient | None = None

    def start(self) -> LoggingClient:
        args = (self.url, str(self.journal), str(self._stop), str(self.interval))
        self._client = BackgroundClient(
            "continuous_logging.py", *args, workdir=self.workdir, hosts=self.hosts, env=self.env
        )
        return self

    def calls(self) -> list[dict]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line.endswith("}")]

    def wait_for_acks(self, count: int, after: float = 0.0, timeout: float = 120.0) -> None:
        """Until ``count`` calls that ended after ``after`` (wall clock) were acknowledged."""
        assert self._client is not None
        deadline = time.monotonic() + timeout
        while sum(1 for c in self.calls() if c["ok"] and c["end"] > after) < count:
            if not self._client.running:
                raise ClientFailed(f"the logging client exited\n{self._client.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} acknowledged calls in {timeout:.0f} s: {self.calls()[-3:]}")
            time.sleep(0.1)

    def finish(self, timeout: float = 300.0) -> dict:
        """Stop logging; the client's result (run id, steps read back through the API)."""
        assert self._client is not None
        self._stop.touch()
        return self._client.result(timeout)

    def outcome(self, recovered_at: float) -> Outcome:
        calls = self.calls()
        acked = [c for c in calls if c["ok"]]
        durations = [c["end"] - c["start"] for c in acked]
        first = min((c["end"] for c in acked if c["end"] > recovered_at), default=float("nan"))
        return Outcome(
            acknowledged=[c["step"] for c in acked],
            failed=[c for c in calls if not c["ok"]],
            retried=sum(1 for c in acked if c["retries"]),
            retries=sum(c["retries"] for c in calls),
            recovery_seconds=first - recovered_at,
            slowest_seconds=max(durations),
            median_seconds=statistics.median(durations),
        )

    def __enter__(self) -> LoggingClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.kill()


# --------------------------------------------------------------------------------------------------
# Probes under a fault
# --------------------------------------------------------------------------------------------------


class ProbeWatch:
    """Run a container's probes every ``interval`` seconds in a thread (context manager); per probe kind
    the longest stretch of consecutive failures, in seconds."""

    def __init__(self, container: dict, kinds: Iterable[str], pod_ip: str, interval: float = 1.0) -> None:
        self.container, self.pod_ip, self.interval = container, pod_ip, interval
        self.probes = {kind: container[kind] for kind in kinds if container.get(kind)}
        self.failures = {kind: 0 for kind in self.probes}
        self.longest = {kind: 0.0 for kind in self.probes}
        self._since: dict[str, float | None] = {kind: None for kind in self.probes}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            for kind, probe in self.probes.items():
                now = time.monotonic()
                if probe_once(self.container, probe, self.pod_ip).ok:
                    self._since[kind] = None
                    continue
                self.failures[kind] += 1
                since = self._since[kind] = self._since[kind] or now
                self.longest[kind] = max(self.longest[kind], now - since + self.interval)

    def __enter__(self) -> ProbeWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(10)


def restart_budget(probe: dict) -> float:
    """The shortest failing stretch after which the kubelet can act on a probe: ``failureThreshold``
    consecutive failures, ``periodSeconds`` apart."""
    return (float(probe.get("failureThreshold", 3)) - 1) * float(probe.get("periodSeconds", 10))
