"""e3-style events: record what happened, send it through pluggable handlers.

::

    from msgframework.events import Event, EventManager

    manager = EventManager()
    manager.add_handler("file", directory="/var/spool/events")
    with Event("nightly-build", project="nova") as ev:
        ev.attach_file("build.log")
        ev.status = "ok"
    result = manager.send_event(ev)
    if not result:
        print(result.failed)          # {"handler": "reason"}

Modules: :mod:`~msgframework.events.event` (Event, unique_id),
:mod:`~msgframework.events.attachment` (inline vs by-reference files),
:mod:`~msgframework.events.manager` (EventManager, default manager, replay,
outbox), :mod:`~msgframework.events.envconfig` (the environment grammar),
:mod:`~msgframework.events.handlers` (the built-in plugins).
"""

from msgframework.events.attachment import Attachment
from msgframework.events.envconfig import DEFAULT_ENV_VAR
from msgframework.events.event import Event, unique_id
from msgframework.events.handlers.base import EventHandler
from msgframework.events.manager import (
    EventManager,
    FileSendResult,
    HandlerResult,
    SendResult,
    add_handler,
    default_manager,
    handler_config_as_env,
    load_handlers_from_env,
    send_event,
    send_event_files,
    send_event_from_file,
)

__all__ = [
    "Attachment", "DEFAULT_ENV_VAR", "Event", "EventHandler", "EventManager",
    "FileSendResult", "HandlerResult", "SendResult", "add_handler", "default_manager",
    "handler_config_as_env", "load_handlers_from_env", "send_event", "send_event_files",
    "send_event_from_file", "unique_id",
]
