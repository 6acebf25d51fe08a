"""The ``[msgframework_events]`` options: event handlers from a config file.

::

    [msgframework_events]
    handlers = logging:level=INFO|file:directory=/var/spool/events

``handlers`` takes the grammar of ``$MSGFRAMEWORK_EVENT_HANDLERS`` (see
:mod:`msgframework.events.envconfig`). Unset, the environment variable is
used instead; set but empty, there are no handlers. The options are
registered on the caller's ``ConfigOpts`` (:func:`register_opts`), never on
the global one, and listed by :func:`msgframework.opts.list_opts` for
oslo-config-generator.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping

from oslo_config import cfg

from msgframework.events import envconfig

__all__ = ["EVENTS_GROUP", "EVENT_OPTS", "register_opts", "list_opts", "handler_config"]

EVENTS_GROUP = "msgframework_events"

EVENT_OPTS: list[cfg.Opt] = [
    cfg.StrOpt("handlers", secret=True,
               help="Event handlers, in the grammar of $MSGFRAMEWORK_EVENT_HANDLERS: "
                    "name[:key=value,...] separated by '|', e.g. "
                    "'logging:level=INFO|file:directory=/var/spool/events'. Unset means "
                    "that environment variable; empty means no handlers. A notify "
                    "handler without url uses the transport URL of the caller (for "
                    "`msgframework send-event`, its --transport-url or configuration)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register ``[msgframework_events]`` on ``conf`` (idempotent)."""
    conf.register_opts(EVENT_OPTS, group=EVENTS_GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(EVENTS_GROUP, copy.deepcopy(EVENT_OPTS))]


def handler_config(conf: cfg.ConfigOpts | None, *,
                   var_name: str = envconfig.DEFAULT_ENV_VAR,
                   environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The handler configuration to use and where it came from.

    ``[msgframework_events] handlers`` when set on ``conf`` (even empty),
    else the environment variable. Returns ``(value, source)``; ``source``
    names the option or the variable, for error messages (never the value,
    which may hold passwords).
    """
    if conf is not None:
        register_opts(conf)
        value = conf[EVENTS_GROUP].handlers
        if value is not None:
            return value, f"[{EVENTS_GROUP}] handlers"
    env = os.environ if environ is None else environ
    return env.get(var_name), f"${var_name}"
