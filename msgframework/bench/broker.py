"""Names unique to one run, and removing them from RabbitMQ afterwards.

The broker is shared (other engineers' tests and services use it), so a run
declares only names that carry its own id, and deletes every queue and
exchange it knows of when it ends. Reply and fanout queues, whose names the
libraries choose, are deleted when the client reported them and otherwise
expire a minute after their consumer left (``rabbit_transient_queues_ttl``
is set to 60 s for both libraries).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

LOG = logging.getLogger(__name__)

RABBIT_SCHEMES = ("rabbit", "kombu", "amqp")


@dataclass
class RunNames:
    """The exchange, topic and pool one run declares, and what to delete afterwards."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def exchange(self) -> str:
        return f"bench_{self.run_id}"

    @property
    def topic(self) -> str:
        return f"bench-{self.run_id}"

    @property
    def pool(self) -> str:
        return f"bench-pool-{self.run_id}"

    def queues(self) -> list[str]:
        t = self.topic
        return [t, f"{t}.s1", f"{t}.info", self.pool, f"{self.exchange}.dlq"]

    def exchanges(self) -> list[str]:
        return [self.exchange, f"{self.topic}_fanout", f"{self.exchange}.dlx"]


def is_rabbit(url: str) -> bool:
    scheme = url.split(":", 1)[0].lower()
    return scheme.split("+", 1)[0] in RABBIT_SCHEMES and "+memory" not in scheme


def kombu_url(url: Any) -> str:
    """An ``amqp://`` URL for kombu from a parsed TransportURL (first host)."""
    host = url.hosts[0] if url.hosts else None
    hostname = (host.hostname if host else None) or "localhost"
    port = (host.port if host else None) or 5672
    user = quote((host.username if host else None) or "guest", safe="")
    password = quote((host.password if host else None) or "guest", safe="")
    vhost = quote(url.virtual_host or "/", safe="")
    return f"amqp://{user}:{password}@{hostname}:{port}/{vhost}"


def delete_names(amqp_url: str, names: RunNames, extra_queues: list[str]) -> list[str]:
    """Delete the run's queues and exchanges; returns the names that were deleted."""
    import kombu
    from amqp.exceptions import NotFound

    deleted = []
    with kombu.Connection(amqp_url, connect_timeout=10) as conn:
        for kind, name in ([("queue", q) for q in names.queues() + extra_queues]
                           + [("exchange", e) for e in names.exchanges()]):
            channel = conn.channel()
            try:
                if kind == "queue":
                    channel.queue_delete(name)
                else:
                    channel.exchange_delete(name)
                deleted.append(name)
            except NotFound:
                pass  # never declared in this scenario
            except Exception as exc:  # cleanup is best effort; say what was left
                LOG.warning("Could not delete %s %s: %s", kind, name, exc)
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return deleted
