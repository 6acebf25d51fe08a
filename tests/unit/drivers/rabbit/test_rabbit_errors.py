"""Errors leave the RabbitMQ driver as ours, the original chained (never to itself)."""

from __future__ import annotations

from collections.abc import Callable

import amqp.exceptions as amqp_exc
import pytest

from msgframework.drivers.rabbit.errors import is_connection_error, translate
from msgframework.exceptions import (
    BrokerUnavailable,
    MessageDeliveryFailure,
    TransportDriverError,
)
from msgframework.target import Target
from tests.unit.drivers.rabbit.test_rabbit_memory import notification

UNREACHABLE = "rabbit://guest:s3cret@127.0.0.1:1/?rabbit_retry_interval=0&kombu_reconnect_delay=0"


@pytest.mark.parametrize("error,kind", [
    (ConnectionRefusedError(111, "refused"), BrokerUnavailable),
    (TimeoutError("timed out"), BrokerUnavailable),
    (amqp_exc.ConnectionForced("heartbeats missed"), BrokerUnavailable),
    (amqp_exc.NotFound("no exchange 'x'"), MessageDeliveryFailure),
    (amqp_exc.AccessRefused("no write access"), MessageDeliveryFailure),
    (KeyError("odd"), TransportDriverError),
])
def test_translate_sorts_errors(error: Exception, kind: type) -> None:
    translated = translate(error, "publishing", "h:5672")
    assert type(translated) is kind
    assert "publishing on h:5672" in str(translated)


def test_connection_errors_are_told_from_channel_refusals() -> None:
    assert is_connection_error(ConnectionResetError())
    assert is_connection_error(amqp_exc.ConnectionForced("x"))
    assert not is_connection_error(amqp_exc.NotFound("x"))
    assert not is_connection_error(amqp_exc.PreconditionFailed("x"))


def test_ours_is_passed_through() -> None:
    ours = BrokerUnavailable("down")
    assert translate(ours, "anything") is ours


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__  # type: ignore[assignment]
    assert exc is None, "a cycle in the __cause__ chain"
    return seen


def test_listen_and_send_on_an_unreachable_broker_chain_the_socket_error(
        driver_factory: Callable) -> None:
    driver = driver_factory(UNREACHABLE)
    with pytest.raises(BrokerUnavailable) as listen_error:
        driver.listen_for_notifications([(Target(topic="t"), "info")])
    with pytest.raises(MessageDeliveryFailure) as send_error:
        driver.send_notification(Target(topic="t.info"), {}, notification(), 2.0, retry=0)
        driver.flush(10)
    for info in (listen_error, send_error):
        chain = _chain(info.value)
        assert any(isinstance(e, ConnectionRefusedError) for e in chain), chain
        assert all("s3cret" not in str(e) for e in chain)
