"""Options of the RabbitMQ driver: group ``[msgframework_rabbit]``.

Every option keeps oslo.messaging's name and accepts the group
``[oslo_messaging_rabbit]`` as a deprecated alias, so an oslo.messaging
configuration file configures this driver unchanged. Options of our own
(``confirm_timeout``, ``connect_timeout``, ``dead_letter_exchange``) say so
in their help. Transport URL query parameters override any of them.

Values are checked once, when the driver loads, by
:mod:`msgframework.drivers.rabbit.settings`.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from oslo_config import cfg

from msgframework.opts import register_driver_opts

__all__ = ["GROUP", "OSLO_GROUP", "RABBIT_OPTS"]

GROUP = "msgframework_rabbit"
OSLO_GROUP = "oslo_messaging_rabbit"


def _opt(cls: type, name: str, *, deprecated_name: str | None = None,
         **kwargs: object) -> cfg.Opt:
    """Build an option that also reads oslo.messaging's group.

    ``deprecated_name`` is an older name in oslo's group. It is added as a
    second alias rather than passed through, because oslo.config pairs
    ``deprecated_name`` with ``deprecated_group`` into one alias and would
    then stop reading the option's current name in ``[oslo_messaging_rabbit]``.
    """
    aliases = [cfg.DeprecatedOpt(name, group=OSLO_GROUP)]
    if deprecated_name is not None:
        aliases.append(cfg.DeprecatedOpt(deprecated_name, group=OSLO_GROUP))
    return cls(name, deprecated_opts=aliases, **kwargs)


RABBIT_OPTS: list[cfg.Opt] = [
    # -- queues and exchanges ---------------------------------------------
    _opt(cfg.BoolOpt, "amqp_durable_queues", default=False,
         help="Declare topic, server and notification queues and the control "
              "exchange durable. Forced on with rabbit_quorum_queue."),
    _opt(cfg.BoolOpt, "amqp_auto_delete", default=False,
         help="Declare topic and server queues and the control exchange auto-delete."),
    _opt(cfg.BoolOpt, "rabbit_ha_queues", default=False,
         help="Add x-ha-policy: all to queues (classic mirroring, gone in RabbitMQ 4). "
              "Cannot be combined with rabbit_quorum_queue."),
    _opt(cfg.BoolOpt, "rabbit_quorum_queue", default=False,
         help="Declare topic, server and notification queues as quorum queues."),
    _opt(cfg.BoolOpt, "rabbit_transient_quorum_queue", default=False,
         help="Declare reply and fanout queues as (durable) quorum queues."),
    _opt(cfg.IntOpt, "rabbit_quorum_delivery_limit", default=0, min=0,
         help="x-delivery-limit of quorum queues; 0 leaves it unset."),
    _opt(cfg.IntOpt, "rabbit_quorum_max_memory_length", default=0, min=0,
         help="x-max-in-memory-length of quorum queues; 0 leaves it unset."),
    _opt(cfg.IntOpt, "rabbit_quorum_max_memory_bytes", default=0, min=0,
         help="x-max-in-memory-bytes of quorum queues; 0 leaves it unset."),
    _opt(cfg.IntOpt, "rabbit_transient_queues_ttl", default=1800, min=0,
         help="Seconds an unused reply or fanout queue lives (x-expires); 0 disables."),
    _opt(cfg.IntOpt, "rabbit_qos_prefetch_count", default=0, min=0,
         help="Upper bound on unacknowledged messages per listener. The server's own "
              "bound (its executor size) applies too; the smaller wins. 0: no extra bound."),
    _opt(cfg.BoolOpt, "enable_cancel_on_failover", default=False,
         help="Ask the broker to cancel consumers on HA failover "
              "(x-cancel-on-ha-failover)."),
    _opt(cfg.BoolOpt, "direct_mandatory_flag", default=True,
         deprecated_for_removal=True,
         help="Replies are always mandatory; kept so oslo configs load."),
    _opt(cfg.StrOpt, "dead_letter_exchange", default="",
         help="msgframework only: exchange receiving poison and over-requeued messages "
              "(topic, durable; a durable queue '<exchange>.dlq' is bound to it). "
              "Empty means '<control_exchange>.dlx'."),
    # -- connection pool ---------------------------------------------------
    _opt(cfg.IntOpt, "rpc_conn_pool_size", default=30, min=1,
         help="Accepted for oslo.messaging compatibility and checked, but unused: "
              "msgframework publishes on one pipelined connection per transport."),
    _opt(cfg.IntOpt, "conn_pool_min_size", default=2, min=0,
         help="Accepted for oslo.messaging compatibility, unused (see rpc_conn_pool_size)."),
    _opt(cfg.IntOpt, "conn_pool_ttl", default=1200, min=0,
         help="Accepted for oslo.messaging compatibility, unused (see rpc_conn_pool_size)."),
    # -- reconnection ------------------------------------------------------
    _opt(cfg.FloatOpt, "kombu_reconnect_delay", default=1.0, min=0.0, max=4.5,
         help="Extra seconds to wait after a recoverable connection error."),
    _opt(cfg.FloatOpt, "kombu_reconnect_splay", default=0.0, min=0.0,
         help="Up to this many random seconds added to each reconnect wait (jitter), "
              "so clients do not reconnect in lock-step after a broker restart."),
    _opt(cfg.IntOpt, "kombu_missing_consumer_retry_timeout", default=60, min=0,
         deprecated_name="kombu_reconnect_timeout",
         help="Seconds a reply to a missing reply queue is retried before it is dropped."),
    _opt(cfg.StrOpt, "kombu_failover_strategy", default="round-robin",
         choices=("round-robin", "shuffle"),
         help="Order in which the URL's hosts are tried after a failure."),
    _opt(cfg.StrOpt, "kombu_compression", default=None,
         help="Compress published bodies (gzip, bz2). Receivers must support it."),
    _opt(cfg.FloatOpt, "rabbit_retry_interval", default=1.0, min=0.0,
         help="Seconds before the first reconnect attempt."),
    _opt(cfg.FloatOpt, "rabbit_retry_backoff", default=2.0, min=0.0,
         help="Seconds added to the wait after each failed reconnect attempt."),
    _opt(cfg.FloatOpt, "rabbit_interval_max", default=30.0, min=0.1,
         help="Most seconds between reconnect attempts."),
    _opt(cfg.FloatOpt, "connect_timeout", default=10.0, min=0.1,
         help="msgframework only: seconds a single TCP/AMQP connection attempt may take."),
    _opt(cfg.FloatOpt, "confirm_timeout", default=30.0, min=0.1,
         help="msgframework only: seconds to wait for the broker to confirm a publish; "
              "then ConfirmTimeout is raised (the message may or may not be stored)."),
    _opt(cfg.IntOpt, "confirm_window", default=64, min=0,
         help="msgframework only: notifications and casts a transport may have awaiting "
              "their broker confirm at once. A send within the window returns once the "
              "message is written; one that then fails is logged and raised "
              "(EarlierSendFailed) by the next send of the same kind and by "
              "Transport.flush(). 0 makes each send wait for its own confirm."),
    # -- heartbeats --------------------------------------------------------
    _opt(cfg.IntOpt, "heartbeat_timeout_threshold", default=60, min=0,
         help="Seconds without traffic after which the broker connection is considered "
              "dead (AMQP heartbeat); 0 disables heartbeats."),
    _opt(cfg.IntOpt, "heartbeat_rate", default=3, min=1,
         help="Heartbeat checks per heartbeat_timeout_threshold interval."),
    # -- authentication and TLS -------------------------------------------
    _opt(cfg.StrOpt, "rabbit_login_method", default="AMQPLAIN",
         choices=("PLAIN", "AMQPLAIN", "EXTERNAL", "RABBIT-CR-DEMO"),
         help="SASL mechanism used to log in."),
    _opt(cfg.BoolOpt, "ssl", default=False, help="Connect over TLS."),
    _opt(cfg.StrOpt, "ssl_version", default="",
         help="TLS version (TLSv1_2, TLSv1_3...); empty: the library's best."),
    _opt(cfg.StrOpt, "ssl_key_file", default="", help="Client private key file."),
    _opt(cfg.StrOpt, "ssl_cert_file", default="", help="Client certificate file."),
    _opt(cfg.StrOpt, "ssl_ca_file", default="",
         help="CA bundle to verify the broker with; set, the broker must verify."),
    _opt(cfg.BoolOpt, "ssl_enforce_hostname_verification", default=True,
         help="Check the broker's certificate matches its host name (with ssl_ca_file)."),
    _opt(cfg.BoolOpt, "ssl_enforce_fips_mode", default=False,
         help="Refuse to start unless the Python SSL library runs in FIPS mode."),
    # -- identification (oslo's queue manager is not implemented) ----------
    _opt(cfg.BoolOpt, "use_queue_manager", default=False,
         help="Accepted for compatibility; reply and fanout queue names are always "
              "random in msgframework (a warning is logged when set)."),
    _opt(cfg.StrOpt, "hostname", default=socket.gethostname(), sample_default="<host>",
         help="Host name announced in the connection name."),
    _opt(cfg.StrOpt, "processname", default=Path(sys.argv[0] or "python").name,
         sample_default="<process>",
         help="Process name announced in the connection name."),
    _opt(cfg.BoolOpt, "rabbit_stream_fanout", default=False,
         help="Accepted for compatibility; stream fanout is not implemented and setting "
              "it is a configuration error."),
]

register_driver_opts(GROUP, RABBIT_OPTS)
