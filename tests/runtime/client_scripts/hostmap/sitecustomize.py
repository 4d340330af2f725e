"""Name resolution for test clients: ``RUNTIME_HOSTS="name1,name2"`` resolve to 127.0.0.1.

Stands in for cluster DNS in client processes (the pods get the same through /etc/hosts). The URL
keeps the name, so the ``Host`` header a client sends is the in-cluster name, as in a cluster.
"""

import os
import socket

_NAMES = {name.strip().lower() for name in os.environ.get("RUNTIME_HOSTS", "").split(",") if name.strip()}

if _NAMES:
    _getaddrinfo = socket.getaddrinfo

    def _mapped_getaddrinfo(host, *args, **kwargs):
        if isinstance(host, (str, bytes)):
            name = host.decode() if isinstance(host, bytes) else host
            if name.lower().rstrip(".") in _NAMES:
                host = "127.0.0.1"
        return _getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = _mapped_getaddrinfo
