"""Capture the exact message bodies the real oslo.messaging publishes.

Run with the test virtualenv (oslo.messaging 18.3.1 installed)::

    /tmp/venv/bin/python tests/interop/capture_golden.py

It runs oslo.messaging's rabbit driver on kombu's in-memory transport
(``kombu+memory:////``), wraps kombu's ``Producer.publish`` to record every
body with its exchange and routing key, drives one instance of each message
kind through the real library, and writes ``tests/unit/wire/golden/*.json``.
Those files are committed: ``tests/unit/wire/test_golden.py`` pins our
encoders against them, so the wire format cannot drift unnoticed.

In ``message``, volatile values (uuids, timestamps, traceback frames, reply
queue names) are replaced by placeholders such as ``"<uuid4hex>"``, and a
reply's ``failure`` text by ``{"<json>": <its parsed content>}``; every key
stays, so the key sets are recorded exactly. ``body_text`` keeps one real
body verbatim, as the broker carried it.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import sys
import threading
from typing import Any

import kombu.messaging
import kombu.serialization
import oslo_messaging
from oslo_config import cfg

GOLDEN_DIR = pathlib.Path(__file__).resolve().parents[1] / "unit" / "wire" / "golden"
URL = "kombu+memory:////"
TOPIC = "golden"
CONTEXT = {"user": "alice", "project_id": "p1", "request_id": "req-123"}
STAMP = datetime.datetime(1920, 2, 3, 4, 5, 6, 7)
WAIT = 10.0

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_REPLY_Q = re.compile(r"^reply_[0-9a-f]{32}$")
_NAIVE_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$")


class GoldenError(Exception):
    """An application exception, named as if it came from an app module."""

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message)
        self.kwargs = kwargs


GoldenError.__module__ = "golden_app.errors"


# -- recording ---------------------------------------------------------------

_published: list[dict[str, Any]] = []
_published_cond = threading.Condition()
_original_publish = kombu.messaging.Producer.publish


def _recording_publish(self, body, routing_key=None, *args, **kwargs):
    exchange = kwargs.get("exchange")
    name = getattr(exchange, "name", exchange) or ""
    # What kombu will put on the wire (its JSON serializer, as the driver
    # uses it), parsed back: the golden records bytes, not Python objects.
    _, _, text = kombu.serialization.dumps(body, serializer="json")
    with _published_cond:
        _published.append({"body": json.loads(text), "text": text, "exchange": name,
                           "routing_key": routing_key,
                           "expiration": kwargs.get("expiration")})
        _published_cond.notify_all()
    return _original_publish(self, body, routing_key, *args, **kwargs)


def _wait_for(predicate, what: str) -> dict[str, Any]:
    with _published_cond:
        found = _published_cond.wait_for(
            lambda: next((p for p in _published if predicate(p)), None), WAIT)
    if not found:
        raise SystemExit(f"timed out waiting for {what}")
    return found


def _inner(record: dict[str, Any]) -> dict[str, Any]:
    body = record["body"]
    if isinstance(body, dict) and "oslo.message" in body:
        return json.loads(body["oslo.message"])
    return body


# -- normalising -------------------------------------------------------------

def _norm_tb(lines: list[str]) -> list[str]:
    """Keep the traceback's first and last line; frames differ per machine."""
    if not lines:
        return []
    return [lines[0], "<frames>", lines[-1]]


def _norm(key: str | None, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _norm(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(None, v) for v in value]
    if not isinstance(value, str):
        return value
    if key == "failure":
        failure = json.loads(value)
        failure["tb"] = _norm_tb(failure["tb"])
        return {"<json>": failure}
    if _HEX32.match(value):
        return "<uuid4hex>"
    if _UUID.match(value):
        return "<uuid4>"
    if _REPLY_Q.match(value):
        return "reply_<uuid4hex>"
    if _NAIVE_TS.match(value):
        return "<utcnow>"
    return value


def _golden(name: str, description: str, record: dict[str, Any]) -> None:
    body = record["body"]
    enveloped = isinstance(body, dict) and "oslo.message" in body
    inner = _inner(record)
    doc = {
        "description": description,
        "captured_from": f"oslo.messaging {_version('oslo.messaging')}, "
                         f"kombu {_version('kombu')}, on {URL}",
        "exchange": _norm(None, record["exchange"]),
        "routing_key": _norm(None, record["routing_key"]),
        "enveloped": enveloped,
        "envelope": ({"oslo.version": body["oslo.version"], "oslo.message": "<json>"}
                     if enveloped else None),
        "keys": sorted(inner),
        "message": _norm(None, inner),
        # One real body, verbatim (volatile values and all), for decoders.
        "body_text": record["text"],
    }
    path = GOLDEN_DIR / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path.relative_to(GOLDEN_DIR.parents[2])}")


def _version(dist: str) -> str:
    from importlib.metadata import version
    return version(dist)


# -- driving oslo.messaging --------------------------------------------------

class Endpoint:
    target = oslo_messaging.Target(version="1.2", namespace="golden_ns")

    def __init__(self) -> None:
        self.cast_done = threading.Event()

    def echo(self, ctxt, value, when):
        return {"value": value, "when": STAMP}

    def note(self, ctxt, value):
        self.cast_done.set()

    def fail_value(self, ctxt):
        raise ValueError("bad value", 42)

    def fail_custom(self, ctxt):
        raise GoldenError("custom failure", code=7)

    def slow(self, ctxt):
        # Long enough for the server's call monitor to send a heartbeat
        # (every call_monitor_timeout / 2 seconds, at least 1 s).
        threading.Event().wait(2.5)
        return "done"


def main() -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    kombu.messaging.Producer.publish = _recording_publish
    # The global CONF: oslo.messaging 18.x registers its tracing and metrics
    # options there only, yet reads them from the conf it is given.
    conf = cfg.CONF
    conf([], project="golden")
    transport = oslo_messaging.get_rpc_transport(conf, url=URL)
    endpoint = Endpoint()
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=TOPIC, server="host1"), [endpoint],
        executor="threading")
    server.start()
    try:
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic=TOPIC, version="1.2",
                                             namespace="golden_ns"), timeout=WAIT)

        client.cast(CONTEXT, "note", value=[1, "two", None])
        endpoint.cast_done.wait(WAIT)
        _golden("rpc_cast", "RPCClient.cast(ctxt, 'note', value=[1, 'two', None])",
                _wait_for(lambda p: _inner(p).get("method") == "note", "the cast"))

        result = client.call(CONTEXT, "echo", value={"k": 1.5}, when=STAMP)
        assert result["when"] == "1920-02-03T04:05:06.000007", result
        _golden("rpc_call_request",
                "RPCClient.call(ctxt, 'echo', value={'k': 1.5}, when=datetime(1920,2,3,4,5,6,7))",
                _wait_for(lambda p: _inner(p).get("method") == "echo", "the call"))
        _golden("rpc_reply_result", "the reply to 'echo': a dict holding a datetime",
                _wait_for(lambda p: isinstance(_inner(p).get("result"), dict), "the reply"))

        for method, name, klass, what in (
                ("fail_value", "rpc_reply_failure_builtin", "ValueError",
                 "ValueError('bad value', 42)"),
                ("fail_custom", "rpc_reply_failure_custom", "GoldenError",
                 "GoldenError('custom failure', code=7) from golden_app.errors")):
            try:
                client.call(CONTEXT, method)
            except Exception as exc:
                print(f"{method}: the oslo.messaging caller got {type(exc).__name__}")
            _golden(name, f"the reply of a call whose endpoint raised {what}",
                    _wait_for(lambda p, klass=klass: f'"class": "{klass}"'
                              in (_inner(p).get("failure") or ""),
                              f"the failure reply of {method}"))

        assert client.prepare(call_monitor_timeout=3).call(CONTEXT, "slow") == "done"
        _golden("rpc_call_monitor_request",
                "RPCClient.prepare(call_monitor_timeout=3).call(ctxt, 'slow')",
                _wait_for(lambda p: _inner(p).get("method") == "slow", "the slow call"))
        _golden("rpc_heartbeat", "the call-monitor heartbeat the server sends during 'slow'",
                _wait_for(lambda p: _inner(p).get("ending") is False, "a heartbeat"))

        client.prepare(fanout=True).cast(CONTEXT, "note", value="fanout")
        _golden("rpc_fanout_cast", "RPCClient.prepare(fanout=True).cast(ctxt, 'note', ...)",
                _wait_for(lambda p: _inner(p).get("args", {}).get("value") == "fanout",
                          "the fanout cast"))
    finally:
        server.stop()
        server.wait()

    ntransport = oslo_messaging.get_notification_transport(conf, url=URL)
    for driver, name in (("messagingv2", "notification_v2"), ("messaging", "notification_v1")):
        notifier = oslo_messaging.Notifier(ntransport, publisher_id="compute.host1",
                                           driver=driver, topics=["notifications"])
        notifier.info(CONTEXT, "compute.instance.create.end",
                      {"id": 1, "driver": driver, "at": STAMP})
        _golden(name, f"Notifier(driver={driver!r}).info(ctxt, 'compute.instance.create.end', "
                      "payload)",
                _wait_for(lambda p, driver=driver: isinstance(_inner(p).get("payload"), dict)
                          and _inner(p)["payload"].get("driver") == driver,
                          f"the {driver} notification"))
    transport.cleanup()
    ntransport.cleanup()


if __name__ == "__main__":
    sys.exit(main())
