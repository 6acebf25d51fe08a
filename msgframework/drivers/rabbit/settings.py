"""The driver's validated, frozen settings, built once at start-up.

Reading oslo.config on the hot path is slow and lets a bad value surface
in the middle of a send; instead every option is read and checked here when
the driver loads, and a bad value raises :class:`ConfigurationError` naming
the option. The rest of the driver only reads this object.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
from typing import Any

from oslo_config import cfg

from msgframework.drivers.rabbit.options import GROUP, RABBIT_OPTS
from msgframework.exceptions import ConfigurationError
from msgframework.opts import DriverOptions

__all__ = ["RabbitSettings", "load_settings"]

LOG = logging.getLogger(__name__)

_COMPRESSIONS = ("gzip", "bz2", "zlib", "lzma", "zstd", "brotli")


@dataclasses.dataclass(frozen=True)
class RabbitSettings:
    """Everything the driver needs from its options, already checked."""

    durable_queues: bool = False
    auto_delete: bool = False
    ha_queues: bool = False
    quorum_queue: bool = False
    transient_quorum_queue: bool = False
    quorum_delivery_limit: int = 0
    quorum_max_memory_length: int = 0
    quorum_max_memory_bytes: int = 0
    transient_queues_ttl: int = 1800
    qos_prefetch_count: int = 0
    enable_cancel_on_failover: bool = False
    dead_letter_exchange: str = ""
    reconnect_delay: float = 1.0
    reconnect_splay: float = 0.0
    missing_consumer_retry_timeout: float = 60.0
    failover_strategy: str = "round-robin"
    compression: str | None = None
    retry_interval: float = 1.0
    retry_backoff: float = 2.0
    interval_max: float = 30.0
    connect_timeout: float = 10.0
    confirm_timeout: float = 30.0
    confirm_window: int = 64
    heartbeat_timeout: int = 60
    heartbeat_rate: int = 3
    login_method: str = "AMQPLAIN"
    ssl: bool = False
    ssl_version: str = ""
    ssl_key_file: str = ""
    ssl_cert_file: str = ""
    ssl_ca_file: str = ""
    ssl_verify_hostname: bool = True
    hostname: str = "localhost"
    processname: str = "python"
    max_delivery_attempts: int = 5

    @property
    def durable(self) -> bool:
        """Durability of the shared queues and of the control exchange."""
        return self.durable_queues or self.quorum_queue

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between heartbeat checks (as oslo: threshold / rate / 2)."""
        if not self.heartbeat_timeout:
            return 5.0
        return max(0.2, self.heartbeat_timeout / self.heartbeat_rate / 2)

    def ssl_options(self) -> dict[str, Any] | bool:
        """kombu's ``ssl`` argument: False, or a dict of ``ssl.wrap_socket`` style options."""
        if not self.ssl:
            return False
        options: dict[str, Any] = {}
        if self.ssl_version:
            options["ssl_version"] = getattr(ssl, "PROTOCOL_" + self.ssl_version)
        if self.ssl_key_file:
            options["keyfile"] = self.ssl_key_file
        if self.ssl_cert_file:
            options["certfile"] = self.ssl_cert_file
        if self.ssl_ca_file:
            options["ca_certs"] = self.ssl_ca_file
            options["cert_reqs"] = ssl.CERT_REQUIRED
            if self.ssl_verify_hostname:
                # py-amqp checks the host name exactly when one is given; the
                # connection fills in each host's name as the URL spells it
                options["server_hostname"] = None
        return options or True


def _bad(option: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"[{GROUP}] {option}", problem)


def load_settings(conf: cfg.ConfigOpts, query: dict[str, str] | None = None) -> RabbitSettings:
    """Read ``[msgframework_rabbit]`` (URL query overriding) and validate it.

    :raises ConfigurationError: naming the first bad option.
    :raises InvalidTransportURL: for an unknown query parameter.
    """
    o = DriverOptions(conf, GROUP, RABBIT_OPTS, query)
    if o.rabbit_quorum_queue and o.rabbit_ha_queues:
        raise _bad("rabbit_quorum_queue",
                   "cannot be combined with rabbit_ha_queues: a queue is quorum or "
                   "mirrored, not both")
    if o.rabbit_stream_fanout:
        raise _bad("rabbit_stream_fanout", "stream fanout queues are not supported by "
                   "msgframework; unset it (fanout uses one queue per listener)")
    if o.conn_pool_min_size > o.rpc_conn_pool_size:
        raise _bad("conn_pool_min_size",
                   f"{o.conn_pool_min_size} is above rpc_conn_pool_size "
                   f"({o.rpc_conn_pool_size})")
    if o.kombu_compression and o.kombu_compression not in _COMPRESSIONS:
        raise _bad("kombu_compression",
                   f"{o.kombu_compression!r} is not one of {', '.join(_COMPRESSIONS)}")
    if o.rabbit_interval_max < o.rabbit_retry_interval:
        raise _bad("rabbit_interval_max",
                   f"{o.rabbit_interval_max} is below rabbit_retry_interval "
                   f"({o.rabbit_retry_interval})")
    if o.ssl_version and not hasattr(ssl, "PROTOCOL_" + o.ssl_version):
        raise _bad("ssl_version", f"{o.ssl_version!r} is not a TLS version this Python knows")
    for name in ("ssl_key_file", "ssl_cert_file", "ssl_ca_file"):
        path = getattr(o, name)
        if path and not os.path.isfile(path):
            raise _bad(name, f"file {path!r} does not exist")
    if bool(o.ssl_key_file) != bool(o.ssl_cert_file):
        raise _bad("ssl_cert_file", "ssl_cert_file and ssl_key_file must be set together")
    if o.ssl_enforce_fips_mode and not _fips_enabled():
        raise _bad("ssl_enforce_fips_mode", "the Python SSL library is not in FIPS mode")
    if o.use_queue_manager:
        LOG.warning("[%s] use_queue_manager is not supported; reply and fanout "
                    "queue names stay random", GROUP)
    return RabbitSettings(
        durable_queues=o.amqp_durable_queues,
        auto_delete=o.amqp_auto_delete,
        ha_queues=o.rabbit_ha_queues,
        quorum_queue=o.rabbit_quorum_queue,
        transient_quorum_queue=o.rabbit_transient_quorum_queue,
        quorum_delivery_limit=o.rabbit_quorum_delivery_limit,
        quorum_max_memory_length=o.rabbit_quorum_max_memory_length,
        quorum_max_memory_bytes=o.rabbit_quorum_max_memory_bytes,
        transient_queues_ttl=o.rabbit_transient_queues_ttl,
        qos_prefetch_count=o.rabbit_qos_prefetch_count,
        enable_cancel_on_failover=o.enable_cancel_on_failover,
        dead_letter_exchange=o.dead_letter_exchange,
        reconnect_delay=o.kombu_reconnect_delay,
        reconnect_splay=o.kombu_reconnect_splay,
        missing_consumer_retry_timeout=float(o.kombu_missing_consumer_retry_timeout),
        failover_strategy=o.kombu_failover_strategy,
        compression=o.kombu_compression or None,
        retry_interval=o.rabbit_retry_interval,
        retry_backoff=o.rabbit_retry_backoff,
        interval_max=o.rabbit_interval_max,
        connect_timeout=o.connect_timeout,
        confirm_timeout=o.confirm_timeout,
        confirm_window=o.confirm_window,
        heartbeat_timeout=o.heartbeat_timeout_threshold,
        heartbeat_rate=o.heartbeat_rate,
        login_method=o.rabbit_login_method,
        ssl=o.ssl,
        ssl_version=o.ssl_version,
        ssl_key_file=o.ssl_key_file,
        ssl_cert_file=o.ssl_cert_file,
        ssl_ca_file=o.ssl_ca_file,
        ssl_verify_hostname=o.ssl_enforce_hostname_verification,
        hostname=o.hostname,
        processname=o.processname,
        max_delivery_attempts=_max_delivery_attempts(conf),
    )


def _max_delivery_attempts(conf: cfg.ConfigOpts) -> int:
    """The core notification option bounding requeues (shared by every driver)."""
    from msgframework.opts import NOTIFICATIONS_GROUP, register_opts

    register_opts(conf)
    return int(getattr(conf, NOTIFICATIONS_GROUP).max_delivery_attempts)


def _fips_enabled() -> bool:
    try:
        with open("/proc/sys/crypto/fips_enabled") as handle:
            return handle.read().strip() == "1"
    except OSError:
        return False
