"""Name resolution for test clients: ``RUNTIME_HOSTS="name1,name2"`` resolve to 127.0.0.1.

Stands in for cluster DNS in client processes (the pods get the same through /etc/hosts). The URL
keeps the name, so the ``Host`` header a client sends is the in-cluster name, as in a cluster.

``RUNTIME_UNRESOLVED="name,..."``: names that do not resolve at all (a store the client has no route
to). ``RUNTIME_LOOKUPS_LOG=<file>``: every name the client looks up is appended there, one per line.
"""

import os
import socket


def _names(var):
    return {name.strip().lower().rstrip(".") for name in os.environ.get(var, "").split(",") if name.strip()}


_NAMES = _names("RUNTIME_HOSTS")
_UNRESOLVED = _names("RUNTIME_UNRESOLVED")
_LOG = os.environ.get("RUNTIME_LOOKUPS_LOG")

if _NAMES or _UNRESOLVED or _LOG:
    _getaddrinfo = socket.getaddrinfo

    def _mapped_getaddrinfo(host, *args, **kwargs):
        if isinstance(host, (str, bytes)):
            name = (host.decode() if isinstance(host, bytes) else host).lower().rstrip(".")
            if _LOG:
                with open(_LOG, "a", encoding="utf-8") as log:
                    log.write(name + "\n")
            if name in _UNRESOLVED:
                raise socket.gaierror(socket.EAI_NONAME, f"{name}: no route from this client (test)")
            if name in _NAMES:
                host = "127.0.0.1"
        return _getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = _mapped_getaddrinfo
