"""Raw kombu, the floor: what one publish and one consume cost with no framework.

Same broker, same payload, persistent messages (delivery_mode 2), one
publish per message from one thread; the consumer acknowledges each message
after decoding it, with the prefetch our servers use. ``spec["confirms"]``
chooses a broker confirm per publish (py-amqp's synchronous
``confirm_publish``) or none.
"""

from __future__ import annotations

import time
from typing import Any

from msgframework.bench.coord import Coord, peak_rss_bytes
from msgframework.bench.roles_api import GRACE, Receiver, payload, timed_sends

PREFETCH = 64


def _entities(spec: dict[str, Any]) -> tuple[Any, Any]:
    import kombu

    exchange = kombu.Exchange(spec["exchange"], type="direct", durable=False)
    queue = kombu.Queue(spec["topic"], exchange, routing_key=spec["topic"], durable=False)
    return exchange, queue


def kombu_consume(spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    import kombu

    _exchange, queue = _entities(spec)
    receiver = Receiver(spec, coord)

    def on_message(body: Any, message: Any) -> None:
        receiver.arrived(body)
        message.ack()

    with kombu.Connection(spec["kombu_url"]) as conn:
        channel = conn.channel()
        channel.basic_qos(0, PREFETCH, False)
        with kombu.Consumer(channel, queues=[queue], callbacks=[on_message], accept=["json"]):
            coord.ready(role)
            hard = time.time() + spec["duration"] + GRACE * 2
            while not coord.stop.is_set() and time.time() < hard:
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    continue
    return receiver.result()


def kombu_publish(spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    import kombu

    exchange, _queue = _entities(spec)
    data = "x" * spec["payload_size"]
    options = {"confirm_publish": bool(spec["confirms"])}
    with kombu.Connection(spec["kombu_url"], transport_options=options) as conn:
        producer = conn.Producer(exchange=exchange, serializer="json")
        result = timed_sends(spec, coord, role, lambda n, _deadline: producer.publish(
            payload(n, data), routing_key=spec["topic"], delivery_mode=2))
    return {**result, "peak_rss": peak_rss_bytes()}
