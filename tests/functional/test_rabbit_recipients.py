"""Recipient queues on a real RabbitMQ: bounded by the broker from the first send.

The handler creates each recipient's queue with ``x-max-length`` (drop-head)
and ``x-message-ttl``, so a recipient who never opens an inbox costs at most
``max_length`` messages on the broker, each for at most ``ttl`` seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import kombu
import pytest
from oslo_config import cfg

from msgframework.notify.recipients import (
    NotificationHandler,
    NotificationRegistry,
    RecipientInbox,
)
from msgframework.testing.waiting import wait_for
from msgframework.transport import Transport, get_notification_transport
from tests.functional.conftest import KOMBU_URL, RABBIT_URL, Cleanup

WAIT = 10.0


@pytest.fixture
def transport(broker: str) -> Iterator[Transport]:
    transport = get_notification_transport(cfg.ConfigOpts(), RABBIT_URL)
    yield transport
    transport.cleanup()


@pytest.fixture
def prefix(unique: Callable[[str], str], cleanup: Cleanup) -> Callable[..., str]:
    """A unique topic prefix; the recipients' queues are deleted at teardown."""
    name = unique("recipients")

    def queue_of(*recipients: str) -> str:
        cleanup.queues.update(f"{name}.{r}.info" for r in recipients)
        return name

    return queue_of


def depth(queue: str) -> int:
    """Ready messages of ``queue``, as the broker counts them."""
    with kombu.Connection(KOMBU_URL) as conn:
        channel = conn.channel()
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        finally:
            channel.close()


def test_unread_recipient_queue_is_bounded_by_the_broker(transport, prefix):
    topic_prefix = prefix("carl")
    handler = NotificationHandler(transport, registry=NotificationRegistry(),
                                  topic_prefix=topic_prefix, max_length=5, ttl=600)
    for i in range(20):  # nobody ever subscribed to carl's queue
        handler.send_notification("carl", "t", f"n{i}")
    transport.flush()
    assert depth(f"{topic_prefix}.carl.info") == 5
    inbox = RecipientInbox(transport, "carl", topic_prefix=topic_prefix,
                           max_length=5, ttl=600)
    got: list[dict] = []
    try:
        # A fetch takes what the broker has pushed to the inbox so far; on a
        # loaded host the rest may still be on its way, for the next fetch.
        wait_for(lambda: got.extend(inbox.fetch(WAIT)) or len(got) >= 5, WAIT,
                 message="the inbox never read all of the broker's 5 notifications")
    finally:
        inbox.close()
    assert [m["message"] for m in got] == [f"n{i}" for i in range(15, 20)]
    assert inbox.limits_on_store and inbox.dropped_overflow == 0


def test_unread_recipient_queue_forgets_expired_notifications(transport, prefix):
    topic_prefix = prefix("dora")
    handler = NotificationHandler(transport, registry=NotificationRegistry(),
                                  topic_prefix=topic_prefix, max_length=None, ttl=0.3)
    for i in range(3):
        handler.send_notification("dora", "t", f"n{i}")
    transport.flush()
    # The broker drops them itself: nobody reads the queue meanwhile.
    wait_for(lambda: depth(f"{topic_prefix}.dora.info") == 0, WAIT,
             message="RabbitMQ kept notifications past the queue's message TTL")
