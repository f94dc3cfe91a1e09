from __future__ import annotations

import socket
import time

_cache: dict[str, tuple[float, bool]] = {}


def kafka_reachable(bootstrap: str, ttl: float = 5.0) -> bool:
    """Some bootstrap broker accepts a connection; cached briefly so probes stay cheap."""
    now = time.monotonic()
    cached = _cache.get(bootstrap)
    if cached and now - cached[0] < ttl:
        return cached[1]
    ok = False
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1.0):
                ok = True
                break
        except OSError:
            continue
    _cache[bootstrap] = (now, ok)
    return ok
