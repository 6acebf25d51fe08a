"""Throw-away RabbitMQ virtual hosts, one per test, made with ``rabbitmqctl``.

The conformance checks use fixed queue names, so each test gets a fresh
vhost; deleting the vhost afterwards removes everything the test declared.
Creating one costs about two seconds of ``rabbitmqctl``, so a few are made
ahead of need on worker threads.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["VhostPool", "rabbitmqctl_available"]

_CTL_TIMEOUT = 60


def rabbitmqctl_available() -> str | None:
    """None when rabbitmqctl can manage the local broker, else why not."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    try:
        subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], check=True, capture_output=True,
                       timeout=_CTL_TIMEOUT)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"rabbitmqctl cannot reach the broker: {exc}"
    return None


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                   timeout=_CTL_TIMEOUT)


class VhostPool:
    """Hands out fresh vhosts (``get``) and deletes them (``release``, ``close``)."""

    def __init__(self, user: str, lookahead: int = 6) -> None:
        self._user = user
        self._executor = ThreadPoolExecutor(max_workers=lookahead)
        self._ready: collections.deque[Future[str]] = collections.deque(
            self._executor.submit(self._create) for _ in range(lookahead))
        self._deleting: list[Future[None]] = []

    def _create(self) -> str:
        name = f"msgf_test_{uuid.uuid4().hex[:12]}"
        _ctl("add_vhost", name)
        _ctl("set_permissions", "-p", name, self._user, ".*", ".*", ".*")
        return name

    def get(self) -> str:
        future = self._ready.popleft()
        self._ready.append(self._executor.submit(self._create))
        return future.result(timeout=_CTL_TIMEOUT * 2)

    def release(self, name: str) -> None:
        self._deleting.append(self._executor.submit(_ctl, "delete_vhost", name))

    def close(self) -> None:
        for future in self._ready:
            if future.cancel():
                continue
            try:
                self.release(future.result(timeout=_CTL_TIMEOUT * 2))
            except Exception:
                pass
        for future in self._deleting:
            future.result(timeout=_CTL_TIMEOUT * 2)
        self._executor.shutdown(wait=True)
