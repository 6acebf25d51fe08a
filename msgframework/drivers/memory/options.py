"""Options of the in-memory driver, group ``[msgframework_memory]``.

Every option can also be set per transport through the URL query, e.g.
``memory://tests?max_deliveries=3``; an unknown key fails naming the known
ones (see ``opts.DriverOptions``).
"""

from __future__ import annotations

from oslo_config import cfg

from msgframework.opts import register_driver_opts

__all__ = ["GROUP", "MEMORY_OPTS"]

GROUP = "msgframework_memory"

MEMORY_OPTS: list[cfg.Opt] = [
    cfg.IntOpt("max_deliveries", default=20, min=0,
               help="A message delivered this many times without being acknowledged "
                    "(requeued again and again) is dead-lettered instead of delivered "
                    "again, as on the other drivers. 0 means no limit."),
]

register_driver_opts(GROUP, MEMORY_OPTS)
