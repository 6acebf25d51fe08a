"""The ``noop`` notifier driver: discards notifications on purpose.

Configuring it is the explicit way to turn notifications off; the Notifier
reports ``is_enabled() == False`` when it is the only driver.
"""

from __future__ import annotations

from typing import Any

from msgframework.notify.drivers.base import Driver

__all__ = ["NoOpDriver"]


class NoOpDriver(Driver):
    """Drops every notification."""

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        return None
