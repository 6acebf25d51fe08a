"""The ``log`` notifier driver: notifications as log records.

Each notification is logged as its JSON text on the logger
``msgframework.notification.<event_type>``, at the level its priority names.
oslo.messaging drops ``audit`` and ``sample`` with a warning because Python
has no such levels; we log them at INFO and DEBUG so nothing disappears.
Values under secret-looking keys (password, token, secret...) are masked at
any depth, since log files are read by more people than queues are.

Logging back into a :class:`~msgframework.notify.log_handler.PublishErrorsHandler`
cannot loop: the handlers skip records emitted while they are already
sending (see ``msgframework.notify.log_handler``).
"""

from __future__ import annotations

import logging
from typing import Any

from msgframework.notify.drivers.base import Driver
from msgframework.wire.jsonutil import dumps

__all__ = ["LogDriver", "mask_secrets", "LOGGER_PREFIX"]

LOGGER_PREFIX = "msgframework.notification"

_LEVELS = {
    "audit": logging.INFO,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "sample": logging.DEBUG,
}

# Substrings of key names whose values are never written to a log.
_SECRET_MARKERS = ("password", "passwd", "pswd", "secret", "token", "private_key",
                   "passphrase", "fernetkey", "sslkey", "cephxkey", "encrypted_key",
                   "adminpass", "admin_pass", "new_pass", "configdrive")
_MASK = "***"


def _is_secret(key: Any) -> bool:
    lowered = str(key).lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def mask_secrets(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with values under secret-looking keys replaced by ``***``."""
    if _depth > 20:
        return value
    if isinstance(value, dict):
        return {k: (_MASK if _is_secret(k) else mask_secrets(v, _depth + 1))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v, _depth + 1) for v in value]
    return value


class LogDriver(Driver):
    """Logs each notification on ``msgframework.notification.<event_type>``."""

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        level = _LEVELS.get(priority.lower(), logging.INFO)
        logger = logging.getLogger(f"{LOGGER_PREFIX}.{message.get('event_type')}")
        if logger.isEnabledFor(level):
            text = dumps(mask_secrets(message))  # TypeError on a bad payload, as a transport
            logger.log(level, "%s", text)
        else:
            dumps(message)  # still refuse what a transport would refuse
