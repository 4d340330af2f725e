"""What the cluster does around a rollout, played on this machine: a Service that balances over the pods
that are Ready, and pods that start in the background (their init containers may wait as long as they like,
as the server's schema gate does), so a Deployment's rolling update and a Job can run at the same time, as
``kubectl apply -f dist`` starts them.

``ServiceBalancer``: 127.0.0.1:<Service port> forwarding each new connection to the next backend in turn;
backends join when Ready and leave when they stop, as endpoints do. ``BackgroundPod``: ``run_pod`` in a
thread. ``roll_out``: maxSurge 1 / maxUnavailable 0, the Deployment strategy of the server: each new pod
is added once Ready, and only then is an old one removed and stopped.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from podrunner import PodRun, run_pod
from postgres import free_port


class ServiceBalancer:
    """A Service on 127.0.0.1:``port`` (a free one by default): each new connection goes to the next backend
    port (round robin), recorded in ``used``. Connections already open stay on their backend, as with
    kube-proxy."""

    def __init__(self, port: int | None = None, backends: Iterable[int] = ()) -> None:
        self.port = port or free_port()
        self.used: list[int] = []
        self._backends: list[int] = list(backends)
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def backends(self) -> list[int]:
        with self._lock:
            return list(self._backends)

    def add(self, port: int) -> None:
        with self._lock:
            self._backends.append(port)

    def remove(self, port: int) -> None:
        with self._lock:
            self._backends.remove(port)

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                backends = list(self._backends)
            if not backends:  # no endpoint: the connection is refused, as by a Service without Ready pods
                client.close()
                continue
            backend = backends[next(self._turn) % len(backends)]
            self.used.append(backend)
            try:
                upstream = socket.create_connection(("127.0.0.1", backend), 5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def __enter__(self) -> ServiceBalancer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class BackgroundPod:
    """``run_pod(workload, objects, secrets, **kwargs)`` in a thread (context manager)."""

    workload: dict
    objects: list[dict]
    secrets: dict
    kwargs: dict = field(default_factory=dict)
    run: PodRun | None = None
    error: BaseException | None = None
    started_at: float = 0.0
    _running: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> BackgroundPod:
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        return self

    def _main(self) -> None:
        try:
            with run_pod(self.workload, self.objects, self.secrets, init_timeout=900, **self.kwargs) as run:
                self.run = run
                self._running.set()
                self._release.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by wait_running
            self.error = exc
            self._running.set()

    @property
    def past_init(self) -> bool:
        """Whether its init containers (the schema gate among them) have all completed."""
        return self._running.is_set() and self.error is None

    def wait_running(self, timeout: float) -> PodRun:
        if not self._running.wait(timeout):
            raise TimeoutError(f"pod {self.workload['metadata']['name']} still in its init containers")
        if self.error is not None:
            raise self.error
        assert self.run is not None
        return self.run

    def stop(self) -> None:
        self._release.set()
        if self._thread is not None:
            self._thread.join(120)

    def __enter__(self) -> BackgroundPod:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def roll_out(
    service: ServiceBalancer,
    new: list[BackgroundPod],
    old: list[tuple[int, Callable[[], None]]],
    *,
    port_of: Callable[[PodRun], int],
    timeout: float = 600,
) -> list[dict]:
    """The server Deployment's rolling update (maxSurge 1, maxUnavailable 0): for each new pod, once Ready
    it joins the Service, then one old pod (``(port, stop)``) leaves the Service and is stopped. Returns
    what happened when (epoch seconds), for the report."""
    events = []
    old = list(old)
    for pod in new:
        run = pod.wait_running(timeout)
        run.wait_for_probe(timeout=timeout)
        port = port_of(run)
        service.add(port)
        events.append({"event": "ready", "port": port, "at": time.time()})
        if old:
            old_port, stop = old.pop(0)
            service.remove(old_port)
            stop()
            events.append({"event": "stopped", "port": old_port, "at": time.time()})
    for old_port, stop in old:
        service.remove(old_port)
        stop()
        events.append({"event": "stopped", "port": old_port, "at": time.time()})
    return events


@contextlib.contextmanager
def started_together(pods: Iterable[BackgroundPod]) -> Iterator[list[BackgroundPod]]:
    """Start ``pods`` at the same instant (as ``kubectl apply -f dist`` creates them); stop them after."""
    started = [pod.start() for pod in pods]
    try:
        yield started
    finally:
        for pod in reversed(started):
            pod.stop()
