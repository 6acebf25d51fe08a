"""A process of the SQLite multi-process tests, driven by argv; events go to stdout as JSON.

Modes::

    serve   URL TOPIC SERVER            RPC server: 'echo' replies its args,
                                        'note' reports its args; until stdin closes
    consume URL TOPIC POOL|-            notification listener on TOPIC.info, acks
                                        and reports each payload's 'n'; until stdin closes
    hold    URL TOPIC POOL|- N ACK      claims N notifications, acknowledges the
                                        first ACK, reports them, then blocks holding
                                        the rest (the test kills it)
    publish URL TOPIC START COUNT       sends notifications n=START..START+COUNT-1
    cleanup-race URL TOPIC ROUNDS       per round: worker threads poll, acknowledge
                                        and publish while the main thread calls
                                        transport.cleanup(); reports what the
                                        workers saw (the process must not crash)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from oslo_config import cfg

from msgframework.target import Target
from msgframework.transport import get_rpc_transport


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def stop_on_stdin_eof(listener: object) -> threading.Thread:
    def watch() -> None:
        sys.stdin.read()
        listener.stop()  # type: ignore[attr-defined]
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def serve(url: str, topic: str, server: str) -> None:
    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    listener = transport._listen(Target(topic=topic, server=server))
    stop_on_stdin_eof(listener)
    emit("ready")
    while not listener.stopped:
        for msg in listener.poll(timeout=1.0):
            msg.acknowledge()
            method = msg.message["method"]
            if method == "echo":
                msg.reply({"server": server, "args": msg.message["args"]})
            elif method == "note":
                emit("note", args=msg.message["args"])
    listener.cleanup()
    transport.cleanup()


def _notification_listener(url: str, topic: str, pool: str) -> tuple[object, object]:
    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    listener = transport._listen_for_notifications([(Target(topic=topic), "info")],
                                                   None if pool == "-" else pool)
    return transport, listener


def consume(url: str, topic: str, pool: str) -> None:
    transport, listener = _notification_listener(url, topic, pool)
    stop_on_stdin_eof(listener)
    emit("ready")
    while not listener.stopped:  # type: ignore[attr-defined]
        for msg in listener.poll(timeout=1.0, batch_size=50, batch_timeout=0.01):  # type: ignore
            emit("got", n=msg.message["payload"]["n"], count=msg.delivery_count)
            msg.acknowledge()
    listener.cleanup()  # type: ignore[attr-defined]
    transport.cleanup()  # type: ignore[attr-defined]


def hold(url: str, topic: str, pool: str, count: int, ack: int) -> None:
    transport, listener = _notification_listener(url, topic, pool)
    emit("ready")
    held: list[Any] = []
    deadline = time.monotonic() + 20
    while len(held) < count and time.monotonic() < deadline:
        held.extend(listener.poll(timeout=1.0, batch_size=count - len(held)))  # type: ignore
    for msg in held[:ack]:
        msg.acknowledge()
    emit("held", acked=[m.message["payload"]["n"] for m in held[:ack]],
         unacked=[m.message["payload"]["n"] for m in held[ack:]])
    sys.stdin.read()  # hold the leases until killed


def publish(url: str, topic: str, start: int, count: int) -> None:
    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    emit("ready")
    for n in range(start, start + count):
        transport._send_notification(
            Target(topic=f"{topic}.info"), {}, {"event_type": "test.n", "priority": "INFO",
                                                "payload": {"n": n}}, 2.0)
    emit("done")
    transport.cleanup()


def _race_round(url: str, topic: str, stats: dict[str, Any], lock: threading.Lock) -> None:
    """Four workers poll, acknowledge and publish; the transport closes under them."""
    from msgframework.exceptions import TransportDriverError

    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    target = Target(topic=f"{topic}.info")
    body = {"event_type": "test.n", "priority": "INFO", "payload": {"n": 0}}
    for _ in range(60):
        transport._send_notification(target, {}, body, 2.0)
    listener = transport._listen_for_notifications([(Target(topic=topic), "info")])
    listener.prefetch = 16
    busy = threading.Event()

    def record(exc: BaseException) -> None:
        key = type(exc).__name__ + (": closed" if isinstance(exc, TransportDriverError)
                                    and "transport is closed" in str(exc) else f": {exc}")
        with lock:
            stats["errors"][key] = stats["errors"].get(key, 0) + 1

    def work() -> None:
        while True:
            try:
                for msg in listener.poll(timeout=0.05, batch_size=4):
                    msg.acknowledge()  # must log, never raise
                    with lock:
                        stats["acked"] += 1
                    busy.set()
                transport._send_notification(target, {}, body, 2.0)
            except Exception as exc:  # the closed error ends a worker; others are bugs
                record(exc)
                return

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    busy.wait(10)  # the workers are in full swing: close under them
    transport.cleanup()
    for worker in workers:
        worker.join(10)


def cleanup_race(url: str, topic: str, rounds: int) -> None:
    """Close transports while their other threads are in the middle of using them."""
    import logging

    logged: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(f"{record.levelname} {record.getMessage()}"[:200])

    logging.getLogger().addHandler(Collect(logging.ERROR))
    stats: dict[str, Any] = {"acked": 0, "errors": {}}
    lock = threading.Lock()
    for _ in range(rounds):
        _race_round(url, topic, stats, lock)
    emit("done", acked=stats["acked"], errors=stats["errors"], logged=logged)


def main(argv: list[str]) -> None:
    mode, url, topic, *rest = argv
    try:
        if mode == "serve":
            serve(url, topic, rest[0])
        elif mode == "consume":
            consume(url, topic, rest[0])
        elif mode == "hold":
            hold(url, topic, rest[0], int(rest[1]), int(rest[2]))
        elif mode == "publish":
            publish(url, topic, int(rest[0]), int(rest[1]))
        elif mode == "cleanup-race":
            cleanup_race(url, topic, int(rest[0]))
        else:
            raise SystemExit(f"unknown mode {mode}")
    except Exception as exc:
        emit("error", error=repr(exc))
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
