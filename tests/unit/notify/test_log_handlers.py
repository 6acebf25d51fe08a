"""LoggingNotificationHandler and LoggingErrorNotificationHandler / PublishErrorsHandler."""

from __future__ import annotations

import logging
import logging.config
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from msgframework.notify.drivers import test as test_driver
from msgframework.notify.listener import get_notification_listener
from msgframework.notify.log_handler import (
    LoggingErrorNotificationHandler,
    PublishErrorsHandler,
)
from msgframework.notify.logger import LoggingNotificationHandler
from msgframework.target import Target

from .conftest import WAIT, Recorder


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"test.notify.{uuid.uuid4().hex}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def test_records_become_logrecord_notifications(logger: logging.Logger) -> None:
    handler = LoggingNotificationHandler(None, publisher_id="svc", driver="test")
    logger.addHandler(handler)
    logger.warning("disk %s at %d%%", "sda", 91, extra={"host": "h1"})
    try:
        raise KeyError("k")
    except KeyError:
        logger.exception("lookup failed")
    [(_, warn, wprio, _), (_, err, eprio, _)] = test_driver.NOTIFICATIONS
    assert (wprio, eprio) == ("WARN", "ERROR")
    assert warn["event_type"] == "logrecord" and warn["publisher_id"] == "svc"
    payload = warn["payload"]
    assert payload["msg"] == "disk sda at 91%"
    assert payload["levelname"] == "WARNING" and payload["name"] == logger.name
    assert payload["extra"] == {"host": "h1"}
    assert payload["exc_info"] is None
    assert "KeyError" in err["payload"]["exc_info"]


def test_custom_levels_are_skipped(logger: logging.Logger) -> None:
    logger.addHandler(LoggingNotificationHandler(None, driver="test"))
    logger.log(25, "custom level")  # "Level 25" has no notifier method
    assert test_driver.NOTIFICATIONS == []


def test_usable_from_logging_config_on_a_real_transport(transport_url: str) -> None:
    name = f"test.notify.cfg.{uuid.uuid4().hex}"
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "handlers": {"notifier": {
            "class": "msgframework.notify.logger.LoggingNotificationHandler",
            "url": transport_url, "publisher_id": "cfg", "topic": "logs",
            "level": "ERROR"}},
        "loggers": {name: {"handlers": ["notifier"], "level": "DEBUG", "propagate": False}},
    })
    log = logging.getLogger(name)
    handler = log.handlers[0]
    server = None
    try:
        seen = Recorder()

        class Errors:
            def error(self, ctxt: Any, pub: str, event_type: str, payload: Any,
                      md: Any) -> None:
                seen.add((pub, event_type, payload["msg"]))

        transport = handler.notifier.transport  # type: ignore[attr-defined]
        server = get_notification_listener(transport, [Target(topic="logs")], [Errors()])
        server.start()
        log.info("not sent: below the handler's level")
        log.error("sent %d", 1)
        assert seen.wait_len(1) == [("cfg", "logrecord", "sent 1")]
    finally:
        if server is not None:  # before the handler closes the transport it runs on
            server.stop(timeout=WAIT)
            server.wait(timeout=WAIT)
        log.removeHandler(handler)
        handler.close()


def test_handler_never_raises_into_the_caller(logger: logging.Logger,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)
    handler = LoggingNotificationHandler(None, driver="test")
    logger.addHandler(handler)
    logger.error("payload with %s", "args", extra={"obj": object()})  # made JSON-safe
    assert len(test_driver.NOTIFICATIONS) == 1

    class Broken:
        def error(self, *args: Any) -> None:
            raise RuntimeError("transport exploded")

    handler.notifier = Broken()
    errors: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", errors.append)
    logger.error("still fine")  # no exception here
    assert [r.getMessage() for r in errors] == ["still fine"]


def test_error_handler_sends_error_notifications(logger: logging.Logger) -> None:
    assert PublishErrorsHandler is LoggingErrorNotificationHandler
    handler = PublishErrorsHandler(None, driver="test")
    logger.addHandler(handler)
    logger.warning("below ERROR: ignored")
    logger.error("database %s unreachable", "db1")
    [(ctxt, message, priority, _)] = test_driver.NOTIFICATIONS
    assert (priority, message["event_type"], message["publisher_id"]) == (
        "ERROR", "error_notification", "error.publisher")
    assert message["payload"] == {"error": "database db1 unreachable"}
    assert ctxt == {}


def test_error_handler_with_log_driver_does_not_recurse(
        logger: logging.Logger) -> None:
    """The log driver logs the notification at ERROR; the handler sees it on root."""
    handler = LoggingErrorNotificationHandler(None, driver=["log", "test"])
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    try:
        logger.propagate = True
        logger.error("boom")
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        handler.close()
    assert [m["payload"] for _, m, _, _ in test_driver.NOTIFICATIONS] == [{"error": "boom"}]


def test_error_handler_failure_report_does_not_recurse(logger: logging.Logger) -> None:
    """A failed send is logged at ERROR by the Notifier: that record must not loop."""

    class Down:
        def __init__(self, notifier_error: Any) -> None:
            self.calls = 0
            self._error = notifier_error

        def error(self, *args: Any) -> None:
            self.calls += 1
            logging.getLogger("msgframework.notify.notifier").error("Could not send")

    handler = LoggingErrorNotificationHandler(None, driver="noop")
    handler.notifier = Down(handler.notifier.error)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logger.propagate = True
        logger.error("boom")
    finally:
        root.removeHandler(handler)
        handler.close()
    assert handler.notifier.calls == 1
