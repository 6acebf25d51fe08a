"""Connections to the broker: host failover, reconnect backoff with jitter.

Each :class:`BrokerConnection` owns one kombu connection at a time and is
used by exactly one thread at a time (kombu and py-amqp are not
thread-safe): send connections are checked out of the pool, listener and
reply connections belong to their consumer thread. Heartbeats are sent by
those owners (see :mod:`publisher` and :mod:`consumer`), never by the
application's threads, so slow application work cannot starve them.

Failover: the URL's hosts are tried in order (``round-robin``) or in a
random order per pass (``shuffle``); a failed host moves us to the next one
at once, and only after a whole pass failed do we wait. The wait grows from
``rabbit_retry_interval`` by ``rabbit_retry_backoff`` per pass up to
``rabbit_interval_max``, plus ``kombu_reconnect_delay`` and a random
``kombu_reconnect_splay`` so that many clients cut off by a broker restart
do not come back in lock-step.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import kombu

from msgframework.drivers.rabbit.errors import is_connection_error
from msgframework.drivers.rabbit.settings import RabbitSettings
from msgframework.exceptions import BrokerUnavailable
from msgframework.transport_url import TransportHost, TransportURL

__all__ = ["HostList", "Backoff", "BrokerConnection", "is_memory_url"]

LOG = logging.getLogger(__name__)

_DEFAULT_PORT = 5672
#: The polling period of kombu's virtual (in-memory) transport.
MEMORY_POLL_INTERVAL = 0.01


def is_memory_url(url: TransportURL) -> bool:
    """``kombu+memory://``: kombu's in-process transport, for tests."""
    scheme = url.transport or ""
    return "+" in scheme and scheme.split("+", 1)[1] == "memory"


class _Host:
    """One broker host as kombu wants it, with a redacted name for logs."""

    __slots__ = ("kwargs", "label")

    def __init__(self, kwargs: dict[str, Any], label: str) -> None:
        self.kwargs = kwargs
        self.label = label


class HostList:
    """The hosts of a transport URL and the failover order over them (thread-safe)."""

    def __init__(self, url: TransportURL, settings: RabbitSettings) -> None:
        self._strategy = settings.failover_strategy
        self._lock = threading.Lock()
        if is_memory_url(url):
            self.hosts = [_Host({"hostname": "memory://",
                                 "transport_options": {
                                     "polling_interval": MEMORY_POLL_INTERVAL}},
                                "memory://")]
        else:
            hosts = url.hosts or [TransportHost("localhost", _DEFAULT_PORT, "guest", "guest")]
            self.hosts = [self._amqp_host(h, url.virtual_host, settings) for h in hosts]
        self._current = 0

    @staticmethod
    def _amqp_host(host: TransportHost, vhost: str | None,
                   settings: RabbitSettings) -> _Host:
        port = host.port or _DEFAULT_PORT
        kwargs: dict[str, Any] = {
            "hostname": host.hostname or "localhost",
            "port": port,
            # as oslo: a host without credentials gets empty ones, not another host's
            "userid": host.username or "",
            "password": host.password or "",
            "virtual_host": vhost or "/",
            "transport": "pyamqp",
        }
        label = TransportHost(host.hostname, port, host.username,
                              host.password).netloc(redact=True)
        return _Host(kwargs, label)

    def order(self) -> list[_Host]:
        """Hosts for one connection pass, starting with the current one."""
        with self._lock:
            hosts = self.hosts[self._current:] + self.hosts[:self._current]
        if self._strategy == "shuffle" and len(hosts) > 1:
            first, rest = hosts[0], hosts[1:]
            random.shuffle(rest)
            hosts = [first, *rest]
        return hosts

    def mark_good(self, host: _Host) -> None:
        """Start the next pass from the host that worked."""
        with self._lock:
            self._current = self.hosts.index(host)

    def mark_failed(self, host: _Host) -> None:
        """Start the next pass from the host after the failed one."""
        with self._lock:
            if self.hosts[self._current] is host:
                self._current = (self._current + 1) % len(self.hosts)


class Backoff:
    """Waits between reconnect passes: linear growth, capped, plus delay and jitter."""

    def __init__(self, settings: RabbitSettings) -> None:
        self._s = settings

    def delay(self, failures: int) -> float:
        s = self._s
        base = min(s.interval_max, s.retry_interval + s.retry_backoff * max(0, failures - 1))
        return base + s.reconnect_delay + random.uniform(0.0, s.reconnect_splay)


#: This process's id, kept current across fork() (``connected`` runs for every
#: acknowledgement and delivery: an attribute read, not a system call).
_pid = os.getpid()


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)


class BrokerConnection:
    """One logical connection that reconnects, possibly to another host.

    :param purpose: ``send``, ``listen`` or ``reply``; it goes into the
        connection name the broker shows (``<process>:<pid>:<purpose>:<id>``).
    :param closing: set when the driver shuts down; interrupts backoff waits.
    :param confirm_publish: put every channel in confirm mode with py-amqp
        waiting for each confirm inside ``basic_publish`` (consumer threads
        republishing). The pipelined publisher passes False and reads
        confirms itself.
    """

    def __init__(self, hosts: HostList, settings: RabbitSettings, purpose: str,
                 closing: threading.Event, confirm_publish: bool = True) -> None:
        self._confirm_publish = confirm_publish
        self._hosts = hosts
        self._settings = settings
        self._purpose = purpose
        self._closing = closing
        self._backoff = Backoff(settings)
        self.conn: kombu.Connection | None = None
        self.host: _Host | None = None
        self._pid = os.getpid()
        self.generation = 0  # grows with each (re)connection: consumers resubscribe on change
        self._next_heartbeat_check = 0.0
        self.on_connected: list[Callable[[BrokerConnection], None]] = []

    # -- state ---------------------------------------------------------
    @property
    def is_memory(self) -> bool:
        return self._hosts.hosts[0].label == "memory://"

    @property
    def connected(self) -> bool:
        if self.conn is None:
            return False
        if _pid != self._pid:
            # The socket belongs to the parent process: never read or write it here.
            LOG.warning("Process forked after the broker connection was opened; "
                        "opening a new one in the child")
            self.conn = None
            self._pid = _pid
            return False
        return bool(self.conn.connected)

    def describe(self) -> str:
        return self.host.label if self.host else "(not connected)"

    def sock(self) -> Any:
        """The socket under py-amqp, or None (memory transport, not connected)."""
        if self.conn is None or self.is_memory:
            return None
        return self._sock_of(self.conn)

    # -- connecting ----------------------------------------------------
    def _new_kombu(self, host: _Host) -> kombu.Connection:
        s = self._settings
        kwargs = dict(host.kwargs)
        if "port" in kwargs:
            options = dict(kwargs.pop("transport_options", {}) or {})
            options["confirm_publish"] = self._confirm_publish
            options["client_properties"] = {
                "connection_name": f"{s.processname}:{os.getpid()}:{self._purpose}:"
                                   f"{uuid.uuid4().hex[:8]}",
                "capabilities": {"authentication_failure_close": True,
                                 "connection.blocked": True,
                                 "consumer_cancel_notify": True},
            }
            options["read_timeout"] = None
            options["write_timeout"] = s.connect_timeout
            kwargs.update(
                transport_options=options,
                heartbeat=s.heartbeat_timeout,
                connect_timeout=s.connect_timeout,
                login_method=s.login_method,
                ssl=self._ssl_for(kwargs["hostname"]),
            )
        return kombu.Connection(**kwargs)

    def _ssl_for(self, hostname: str) -> dict[str, Any] | bool:
        """TLS options for one host, verified against its name as the URL spells it.

        kombu would fill in the name after rewriting ``localhost`` to
        ``127.0.0.1``, so a certificate issued for ``localhost`` would fail.
        """
        options = copy.deepcopy(self._settings.ssl_options())
        if isinstance(options, dict) and "server_hostname" in options:
            options["server_hostname"] = hostname
        return options

    def ensure_connected(self, retry: int | None = None) -> kombu.Connection:
        """Return a live connection, (re)connecting within ``retry`` failed passes.

        :param retry: None or negative: forever; 0: one pass over the hosts;
            N: N more passes after the first.
        :raises BrokerUnavailable: every host failed for the whole budget, or
            the driver is closing.
        """
        if self.connected:
            assert self.conn is not None
            return self.conn
        self.close()
        last: BaseException | None = None
        for failures in itertools.count(1):
            if self._closing.is_set():
                raise BrokerUnavailable("the transport is shut down") from last
            for host in self._hosts.order():
                conn = self._new_kombu(host)
                try:
                    # one attempt: kombu's connect() would retry after 2 s on its own
                    conn.ensure_connection(max_retries=0, reraise_as_library_errors=False)
                except Exception as exc:
                    if not is_connection_error(exc) and not _is_auth_error(exc):
                        raise
                    last = exc
                    self._hosts.mark_failed(host)
                    _release(conn)
                    LOG.debug("Connecting to %s failed: %s", host.label, exc)
                    continue
                self.conn, self.host = conn, host
                self._hosts.mark_good(host)
                self.generation += 1
                if failures > 1 or self.generation > 1:
                    LOG.info("Reconnected to AMQP server on %s (%s)", host.label,
                             self._purpose)
                for callback in list(self.on_connected):
                    callback(self)
                return conn
            if retry is not None and retry >= 0 and failures > retry:
                raise BrokerUnavailable(
                    f"cannot connect to any of {', '.join(h.label for h in self._hosts.hosts)}"
                    f" after {failures} attempt(s): {last}") from last
            delay = self._backoff.delay(failures)
            LOG.error("AMQP server(s) %s unreachable: %s. Trying again in %.1f seconds.",
                      ", ".join(h.label for h in self._hosts.hosts), last, delay)
            if self._closing.wait(delay):
                raise BrokerUnavailable("the transport is shut down") from last
        raise AssertionError("unreachable")

    def lost(self, exc: BaseException | None = None) -> None:
        """Forget a connection that failed; the next ensure_connected() reconnects."""
        if self.host is not None:
            LOG.warning("Connection to AMQP server on %s (%s) lost: %s", self.host.label,
                        self._purpose, exc)
            self._hosts.mark_failed(self.host)
        self.close()

    def heartbeat_check(self) -> None:
        """Send a heartbeat if due and fail if the broker's are missing (owner thread only).

        Owners call this on every turn of their loop, which under traffic is
        every message; the check itself runs at most every ``heartbeat_interval
        / 2`` (py-amqp's tick is not cheap), which keeps heartbeats on time.
        """
        if self.conn is None or not self._settings.heartbeat_timeout or self.is_memory:
            return
        now = time.monotonic()
        if now < self._next_heartbeat_check:
            return
        self._next_heartbeat_check = now + self._settings.heartbeat_interval / 2
        self.conn.heartbeat_check(rate=self._settings.heartbeat_rate)

    def close(self, graceful: bool = False) -> None:
        """Drop the connection; ``graceful`` says goodbye to the broker (bounded wait)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if graceful and not self.is_memory:
            sock = self._sock_of(conn)
            try:
                if sock is not None:
                    sock.settimeout(2.0)  # a dead peer must not hang shutdown
                conn.close()
                return
            except Exception:
                LOG.debug("Graceful close failed", exc_info=True)
        _release(conn)

    @staticmethod
    def _sock_of(conn: kombu.Connection) -> Any:
        # not ``conn.connection``: that property connects again when the
        # connection is gone (and raises), e.g. while closing a dead one
        amqp_conn = getattr(conn, "_connection", None)
        transport = getattr(amqp_conn, "transport", None)
        return getattr(transport, "sock", None)


def _release(conn: kombu.Connection) -> None:
    """Close without waiting on a dead peer: collect errors, never raise."""
    try:
        conn.collect()
    except Exception:
        LOG.debug("Error releasing a connection", exc_info=True)


def _is_auth_error(exc: BaseException) -> bool:
    """Bad credentials on one host: try the next host instead of failing at once."""
    import amqp.exceptions as amqp_exc

    return isinstance(exc, amqp_exc.AccessRefused)
