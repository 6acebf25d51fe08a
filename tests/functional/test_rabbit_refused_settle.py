"""A settle the broker refuses does not turn into a reconnect loop.

A user that may not write to the dead-letter exchange dead-letters a
message: the broker closes the publishing channel with 403. The message
stays unacknowledged (nothing is lost), the listener keeps its connection
and goes on with the next message.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.target import Target
from tests.functional.conftest import skip_or_fail
from tests.functional.vhosts import rabbitmqctl_available
from tests.unit.drivers.rabbit.test_rabbit_memory import notification


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def restricted_url(broker: str) -> Iterator[str]:
    """A throw-away vhost and user who may write anywhere but to ``*.dlx``."""
    why = rabbitmqctl_available()
    if why:
        skip_or_fail(why)
    token = uuid.uuid4().hex[:10]
    vhost, user, password = f"msgf_test_{token}", f"msgf_user_{token}", f"pw{token}"
    _ctl("add_vhost", vhost)
    try:
        _ctl("add_user", user, password)
        _ctl("set_permissions", "-p", vhost, user, ".*", r"^(?!.*\.dlx$).*", ".*")
        yield f"rabbit://{user}:{password}@127.0.0.1:5672/{vhost}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_user", user], capture_output=True,
                       timeout=60)
        _ctl("delete_vhost", vhost)


def test_refused_dead_letter_leaves_the_message_unacknowledged(
        driver_factory: Callable[..., RabbitDriver], restricted_url: str) -> None:
    driver = driver_factory(restricted_url)
    target = Target(topic="refused.info")
    listener = driver.listen_for_notifications([(Target(topic="refused"), "info")])
    try:
        generation = listener.consumer.bconn.generation
        driver.send_notification(target, {}, notification("poison"), 2.0)
        [poison] = listener.poll(timeout=10)
        poison.dead_letter("the test says so")  # the broker refuses: 403 on the dlx
        driver.send_notification(target, {}, notification("next"), 2.0)
        [message] = listener.poll(timeout=10)
        assert message.message["event_type"] == "next"
        message.acknowledge()
        assert listener.consumer.bconn.generation == generation  # no reconnection
    finally:
        listener.cleanup()
    # nothing was lost: the refused one is back on its queue
    reader = driver_factory(restricted_url)
    again = reader.listen_for_notifications([(Target(topic="refused"), "info")])
    try:
        [back] = again.poll(timeout=10)
        assert back.message["event_type"] == "poison" and back.delivery_count >= 2
        back.acknowledge()
    finally:
        again.cleanup()
