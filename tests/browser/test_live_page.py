"""A real headless Chromium opens the live page, sees notifications arrive, and gets
the ones it missed replayed after it comes back (the Last-Event-ID position kept in
localStorage), on the SQLite transport."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.notify.notifier import Notifier
from msgframework.transport import get_notification_transport

pytest.importorskip("uvicorn")
pytest.importorskip("sse_starlette")

from msgframework.web import BackgroundServer, create_app

pytestmark = pytest.mark.browser

WAIT = 30.0


@pytest.fixture
def transport(tmp_path: Any) -> Iterator[Any]:
    t = get_notification_transport(cfg.ConfigOpts(),
                                   f"sqlite://{tmp_path}/browser.db?poll_interval=0.02")
    yield t
    t.cleanup()


@pytest.fixture
def server(transport: Any, tmp_path: Any) -> Iterator[BackgroundServer]:
    app = create_app(transport, hub_name="browser", buffer_path=str(tmp_path / "replay.db"))
    with BackgroundServer(app) as srv:
        yield srv


def _items(driver: Any) -> list[dict[str, str]]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#events li')).map(function (li) {"
        "  return {type: li.dataset.eventType, seq: li.dataset.seq,"
        "          replayed: li.classList.contains('replayed')}; });")


def _wait_for_seq(server: BackgroundServer, seq: int) -> None:
    """Block until the page's replay buffer holds entry ``seq`` (a condition, no sleep)."""
    buffer, channel = server.app.state.buffer, server.app.state.channel
    cond = threading.Condition()

    def wake() -> None:
        with cond:
            cond.notify_all()

    unsubscribe = buffer.subscribe(wake)
    try:
        with cond:
            assert cond.wait_for(lambda: buffer.last_seq(channel) >= seq, WAIT)
    finally:
        unsubscribe()


def _types(driver: Any) -> list[str]:
    return [item["type"] for item in _items(driver)]


def test_live_page_shows_notifications_and_replays_missed_ones(browser, server, transport):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    notifier = Notifier(transport, "svc.host1", driver="messagingv2",
                        topics=["notifications"], raise_on_send_failure=True)

    browser.get(server.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "status").text == "live")
    assert _types(browser) == []

    # Live: sent after the page connected, they appear without a reload.
    notifier.info({}, "job.started", {"job": 1})
    notifier.error({}, "job.failed", {"job": 1})
    wait.until(lambda d: {"job.started", "job.failed"} <= set(_types(d)))
    assert not any(item["replayed"] for item in _items(browser))

    # Away: the page is closed while two more are sent.
    browser.get("about:blank")
    notifier.info({}, "job.retried", {"job": 1})
    notifier.info({}, "job.done", {"job": 1})
    _wait_for_seq(server, 4)  # the hub has them: they are missed, not merely late

    # Back: the page resumes after the last id it saw and gets exactly the missed ones.
    browser.get(server.url + "/")
    wait.until(lambda d: {"job.retried", "job.done"} <= set(_types(d)))
    wait.until(lambda d: d.find_element(By.ID, "status").text == "live")
    items = _items(browser)
    assert sorted(item["type"] for item in items) == ["job.done", "job.retried"]
    assert all(item["replayed"] for item in items)
    assert "Replayed 2" in browser.find_element(By.ID, "notice").text


def test_filters_chosen_in_the_page_apply_to_the_stream(browser, server, transport):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    notifier = Notifier(transport, "svc", driver="messagingv2", topics=["notifications"],
                        raise_on_send_failure=True)
    browser.get(server.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "status").text == "live")

    field = browser.find_element(By.NAME, "event_type")
    field.send_keys("keep.*")
    browser.find_element(By.ID, "apply").click()
    wait.until(lambda d: "event_type=keep" in d.current_url)
    wait.until(lambda d: d.find_element(By.ID, "status").text == "live")

    notifier.info({}, "drop.this", {})
    notifier.info({}, "keep.that", {})
    wait.until(lambda d: "keep.that" in _types(d))
    assert "drop.this" not in _types(browser)  # it was sent first, on the same stream


def test_date_filters_from_the_url_and_the_form(browser, server, transport):
    """``after``/``before`` in the URL reach the stream, and the form sets them."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    notifier = Notifier(transport, "svc", driver="messagingv2", topics=["notifications"],
                        raise_on_send_failure=True)
    browser.get(server.url + "/healthz")  # answered once the app started its hub
    notifier.info({}, "sent.now", {})
    _wait_for_seq(server, 1)  # in the buffer before the page opens: it is in the backlog

    # "before 2000": the backlog replayed before "live" must be filtered out.
    browser.get(server.url + "/?before=2000-01-01T00:00:00Z")
    wait.until(lambda d: d.find_element(By.ID, "status").text == "live")
    assert browser.find_element(By.NAME, "before").get_attribute("value") == \
        "2000-01-01T00:00:00Z"
    assert _types(browser) == []

    # The form: clear "before", set "after 2000": the same event now passes.
    browser.find_element(By.NAME, "before").clear()
    browser.find_element(By.NAME, "after").send_keys("2000-01-01T00:00:00Z")
    browser.find_element(By.ID, "apply").click()
    wait.until(lambda d: "after=2000" in d.current_url and "before=" not in d.current_url)
    wait.until(lambda d: "sent.now" in _types(d))
