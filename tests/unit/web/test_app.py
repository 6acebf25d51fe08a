"""The live page's application: the SSE stream, replay after Last-Event-ID, URL filters."""

from __future__ import annotations

import warnings

import httpx
import pytest

with warnings.catch_warnings():  # starlette asks for httpx2, which is not packaged yet
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient

from msgframework.hubs import Hub, HubEvent, ReplayBuffer
from msgframework.notify.notifier import Notifier
from msgframework.web import BackgroundServer, create_app

from .conftest import WAIT, SSEReader, parse_sse, seq_of, wait_for_seq


def feed(hub, *types, **payload):
    for i, event_type in enumerate(types):
        hub.consume(HubEvent(event_type, {"i": i, **payload}, publisher_id="p",
                             priority="error" if event_type.startswith("err") else "info"))


@pytest.fixture
def hub():
    return Hub(None, "page")


@pytest.fixture
def client(hub):
    with TestClient(create_app(hub, backlog=50)) as c:
        yield c


def notifications(frames):
    return [f for f in frames if f.get("event") == "notification"]


def test_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "EventSource" not in page.text
    assert '<script src="/static/app.js">' in page.text
    assert "EventSource" in client.get("/static/app.js").text
    health = client.get("/healthz").json()
    epoch = health["epoch"]
    assert health == {"ok": True, "hub": "page", "last_seq": 0, "epoch": epoch,
                      "last_event_id": f"{epoch}-0"}


def test_replay_after_last_event_id_header(client, hub):
    feed(hub, "a", "b", "c")
    epoch = client.get("/healthz").json()["epoch"]
    frames = parse_sse(client.get("/events?follow=0",
                                  headers={"Last-Event-ID": f"{epoch}-1"}).text)
    got = notifications(frames)
    assert [f["id"] for f in got] == [f"{epoch}-2", f"{epoch}-3"]
    assert [f["data"]["event_type"] for f in got] == ["b", "c"]
    assert frames[-1] == {"event": "ready", "data": {"last_seq": 3, "replayed": 2,
                                                     "last_event_id": f"{epoch}-3"}}
    assert not [f for f in frames if f.get("event") == "gap"]


def test_a_bare_number_is_a_position_in_the_current_epoch(client, hub):
    feed(hub, "a", "b", "c")
    frames = parse_sse(client.get("/events?follow=0", headers={"Last-Event-ID": "2"}).text)
    assert [seq_of(f) for f in notifications(frames)] == [3]
    assert not [f for f in frames if f.get("event") == "gap"]


def test_header_wins_over_the_query_position(client, hub):
    feed(hub, "a", "b", "c")
    text = client.get("/events?follow=0&last_event_id=0", headers={"Last-Event-ID": "2"}).text
    assert [seq_of(f) for f in notifications(parse_sse(text))] == [3]
    text = client.get("/events?follow=0&last_event_id=1").text
    assert [seq_of(f) for f in notifications(parse_sse(text))] == [2, 3]


def test_filters_from_the_url(client, hub):
    feed(hub, "backup.done", "err.disk", "backup.start", recipients=["ann"])
    feed(hub, "backup.done", recipients=["bob"])
    text = client.get("/events?follow=0&event_type=backup.*&recipient=ann").text
    assert [f["data"]["event_type"] for f in notifications(parse_sse(text))] == [
        "backup.done", "backup.start"]
    text = client.get("/events?follow=0&priority=error").text
    assert [f["data"]["event_type"] for f in notifications(parse_sse(text))] == ["err.disk"]


def test_new_clients_get_the_backlog(client, hub):
    feed(hub, *[f"e{i}" for i in range(5)])
    text = client.get("/events?follow=0&backlog=2").text
    assert [seq_of(f) for f in notifications(parse_sse(text))] == [4, 5]


def test_gap_is_announced_when_the_buffer_no_longer_covers_it(hub):
    app = create_app(hub, buffer=ReplayBuffer(capacity=2))
    with TestClient(app) as c:
        feed(hub, "a", "b", "c", "d")
        frames = parse_sse(c.get("/events?follow=0", headers={"Last-Event-ID": "0"}).text)
    assert frames[1] == {"event": "gap", "data": {"missed": 2}}
    assert [seq_of(f) for f in notifications(frames)] == [3, 4]


@pytest.mark.parametrize("query, header, needle", [
    ("last_event_id=x", None, "last_event_id"),
    ("", "-1", "Last-Event-ID"),
    ("", "Epoch-3", "Last-Event-ID"),
    ("", "abc-x", "Last-Event-ID"),
    ("after=yesterday", None, "after"),
    ("hide_expired=maybe", None, "hide_expired"),
])
def test_bad_input_is_a_400_naming_it(client, query, header, needle):
    headers = {"Last-Event-ID": header} if header else {}
    response = client.get(f"/events?{query}", headers=headers)
    assert response.status_code == 400
    assert needle in response.json()["error"]


def test_durable_buffer_replays_after_a_restart(tmp_path):
    path = tmp_path / "replay.db"
    hub = Hub(None, "restart")
    with TestClient(create_app(hub, buffer_path=str(path))):
        feed(hub, "before", "restart")
    hub2 = Hub(None, "restart")
    with TestClient(create_app(hub2, buffer_path=str(path))) as c:
        feed(hub2, "after")
        text = c.get("/events?follow=0", headers={"Last-Event-ID": "1"}).text
    assert [f["data"]["event_type"] for f in notifications(parse_sse(text))] == [
        "restart", "after"]


def test_the_default_buffer_survives_a_restart_and_nothing_is_skipped(state_dir):
    """No buffer argument at all: a reconnect after a server restart gets every event."""
    hub = Hub(None, "ops")
    with TestClient(create_app(hub)) as c:
        feed(hub, "one", "two", "three")
        frames = parse_sse(c.get("/events?follow=0&backlog=3").text)
    seen = notifications(frames)[0]  # the browser saw "one", then went away
    assert seen["data"]["event_type"] == "one"
    assert (state_dir / "msgframework" / "replay-ops.db").is_file()

    hub2 = Hub(None, "ops")  # the restarted server, with the same defaults
    with TestClient(create_app(hub2)) as c:
        feed(hub2, "four")
        frames = parse_sse(c.get("/events?follow=0",
                                 headers={"Last-Event-ID": seen["id"]}).text)
    assert [f["data"]["event_type"] for f in notifications(frames)] == [
        "two", "three", "four"]
    assert [seq_of(f) for f in notifications(frames)] == [2, 3, 4]
    assert not [f for f in frames if f.get("event") == "gap"]


@pytest.mark.parametrize("kind", ["other epoch", "beyond the newest"])
def test_a_position_from_a_recreated_buffer_gets_a_gap_not_a_silent_skip(hub, kind):
    """The buffer was recreated (here: in memory): the old id says nothing about it."""
    old = ReplayBuffer()  # the buffer before the "restart"
    for i in range(5):
        old.append({"i": i}, channel="page")
    last_id = old.event_id(5) if kind == "other epoch" else "5"
    with TestClient(create_app(hub, buffer=ReplayBuffer())) as c:
        feed(hub, "n1", "n2", "n3", "n4", "n5", "n6")  # the new buffer is already past 5
        if kind == "beyond the newest":
            last_id = "99"
        frames = parse_sse(c.get("/events?follow=0",
                                 headers={"Last-Event-ID": last_id}).text)
    assert frames[1] == {"event": "gap", "data": {"missed": None, "reset": True}}
    # Everything the new buffer keeps is sent, not only what comes after "5":
    assert [f["data"]["event_type"] for f in notifications(frames)] == [
        "n1", "n2", "n3", "n4", "n5", "n6"]


def test_live_stream_and_reconnect_over_a_real_transport(transport):
    """Notifications sent on the transport appear live; a reconnect replays what it missed."""
    notifier = Notifier(transport, "svc", driver="messagingv2", topics=["notifications"],
                        raise_on_send_failure=True)
    app = create_app(transport, hub_name="live", poll_interval=0.5)
    timeout = httpx.Timeout(WAIT)
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url,
                                                       timeout=timeout) as http:
        with http.stream("GET", "/events?event_type=job.*") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SSEReader(response)
            assert reader.next_event("ready")["data"]["replayed"] == 0
            notifier.info({}, "job.started", {"n": 1})
            notifier.info({}, "other.thing", {"n": 2})
            notifier.info({}, "job.done", {"n": 3})
            first = reader.next_event("notification")
            second = reader.next_event("notification")
        assert [first["data"]["event_type"], second["data"]["event_type"]] == [
            "job.started", "job.done"]
        last_id = second["id"]
        assert last_id.startswith(app.state.buffer.epoch + "-")

        notifier.info({}, "job.missed", {"n": 4})  # nobody connected
        assert wait_for_seq(app.state.buffer, "live", 4, WAIT)  # the hub took it
        with http.stream("GET", "/events?event_type=job.*",
                         headers={"Last-Event-ID": last_id}) as response:
            reader = SSEReader(response)
            missed = reader.next_event("notification")
            assert missed["data"]["event_type"] == "job.missed"
            assert seq_of(missed) > seq_of(second)
            assert reader.next_event("ready")["data"]["replayed"] == 1


def test_the_page_offers_every_url_filter_the_stream_understands():
    """app.js forwards, and index.html has a field for, each of query.FILTER_PARAMS."""
    import re

    from msgframework.web.app import STATIC_DIR
    from msgframework.web.query import FILTER_PARAMS

    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    listed = re.search(r"var FILTERS = \[([^\]]*)\]", script)
    assert listed, "app.js has no FILTERS list"
    assert re.findall(r'"(\w+)"', listed.group(1)) == list(FILTER_PARAMS)
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for name in FILTER_PARAMS:
        assert f'name="{name}"' in page, f"the page's form has no {name} field"
