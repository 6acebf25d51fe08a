"""The log notifier driver: logger names, levels, masking."""

from __future__ import annotations

import json
import logging

import pytest
from oslo_config import cfg

from msgframework.notify.drivers.log import mask_secrets
from msgframework.notify.notifier import Notifier


@pytest.mark.parametrize(("method", "level"), [
    ("audit", logging.INFO), ("debug", logging.DEBUG), ("info", logging.INFO),
    ("warn", logging.WARNING), ("error", logging.ERROR), ("critical", logging.CRITICAL),
    ("sample", logging.DEBUG)])
def test_levels(conf: cfg.ConfigOpts, caplog: pytest.LogCaptureFixture, method: str,
                level: int) -> None:
    caplog.set_level(logging.DEBUG, logger="msgframework.notification")
    getattr(Notifier(None, "p", driver="log", conf=conf), method)({}, "vm.boot", {"a": 1})
    [record] = caplog.records
    assert record.name == "msgframework.notification.vm.boot"
    assert record.levelno == level
    assert json.loads(record.getMessage())["payload"] == {"a": 1}


def test_secrets_are_masked(conf: cfg.ConfigOpts, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="msgframework.notification")
    Notifier(None, "p", driver="log", conf=conf).info(
        {}, "user.create", {"name": "n", "admin_password": "hunter2",
                            "nested": [{"auth_token": "tok"}]})
    text = caplog.records[0].getMessage()
    assert "hunter2" not in text and "tok\"" not in text
    assert json.loads(text)["payload"]["name"] == "n"


def test_mask_secrets_leaves_input_alone() -> None:
    data = {"password": "x", "keep": {"Secret_Key": "y"}}
    assert mask_secrets(data) == {"password": "***", "keep": {"Secret_Key": "***"}}
    assert data["password"] == "x"
