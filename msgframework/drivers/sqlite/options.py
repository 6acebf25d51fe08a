"""Options of the SQLite driver, group ``[msgframework_sqlite]``.

Every option can also be set per transport through the URL query, e.g.
``sqlite:///var/lib/app/messages.db?visibility_timeout=5``; a typo in a query
key fails at start-up listing the known keys (see ``opts.DriverOptions``).
"""

from __future__ import annotations

from oslo_config import cfg

from msgframework.opts import register_driver_opts

__all__ = ["GROUP", "SQLITE_OPTS"]

GROUP = "msgframework_sqlite"

SQLITE_OPTS = [
    cfg.FloatOpt("visibility_timeout", default=30.0, min=0.2,
                 help="Seconds a claimed, unacknowledged message stays invisible to other "
                      "consumers. A live consumer renews its leases every third of this, so "
                      "it only matters when a process dies (SIGKILL, power cut): its "
                      "messages are redelivered this long after its last renewal."),
    cfg.FloatOpt("busy_timeout", default=10.0, min=0.0,
                 help="Seconds SQLite waits for another process's write lock before a "
                      "statement fails with 'database is locked' (then retried per the "
                      "send's retry budget)."),
    cfg.FloatOpt("poll_interval", default=0.2, min=0.005,
                 help="Safety net of the cross-process wake-up: a waiting listener looks at "
                      "the file at least this often even when no wake-up datagram came. "
                      "Bounds latency where datagram sockets are unavailable."),
    cfg.FloatOpt("transient_queue_ttl", default=60.0, min=1.0,
                 help="Seconds after which fanout and reply queues (and listener "
                      "subscriptions) of a process that stopped heartbeating are deleted "
                      "with their messages. Live processes heartbeat every third of this."),
    cfg.IntOpt("max_deliveries", default=20, min=0,
               help="A message delivered this many times without being acknowledged "
                      "(consumers crashing on it, or requeueing it forever) is "
                      "dead-lettered instead of delivered again. 0 means no limit."),
    cfg.StrOpt("synchronous", default="NORMAL", choices=["OFF", "NORMAL", "FULL", "EXTRA"],
               help="SQLite 'synchronous' pragma. NORMAL (with WAL) survives the crash of "
                    "any process; FULL also survives a power cut, at a cost per publish."),
    cfg.FloatOpt("ack_delay", default=0.005, min=0.0,
                 help="Acknowledgements of notifications are committed in groups, this "
                      "many seconds after the first pending one, so a busy consumer takes "
                      "the file's write lock once per group instead of once per message. "
                      "The message stays leased until then (a crash meanwhile redelivers "
                      "it, as a crash just before acknowledging would). 0 commits each "
                      "acknowledgement before acknowledge() returns. RPC requests are "
                      "always acknowledged at once: they are at-most-once."),
    cfg.IntOpt("dead_letter_retention", default=7 * 24 * 3600, min=0,
               help="Seconds dead-lettered messages are kept in the dead_letters table "
                    "for inspection. 0 keeps them forever."),
]

register_driver_opts(GROUP, SQLITE_OPTS)
