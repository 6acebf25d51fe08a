"""Transports for the unit tests: the two drivers that need no network.

Tests taking ``local_transport`` (or ``local_transport_url``) run twice: on
the in-process memory driver (``memory://<unique vhost>``) and on an SQLite
file under the test's ``tmp_path``. Both are real drivers with requeue,
pools and dead letters, so a guarantee must hold on each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.transport import get_notification_transport


@pytest.fixture(params=["memory", "sqlite"])
def local_transport_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex}"
    return f"sqlite://{tmp_path}/local.db?poll_interval=0.02"


@pytest.fixture
def local_transport(local_transport_url: str) -> Iterator[Any]:
    transport = get_notification_transport(cfg.ConfigOpts(), local_transport_url)
    yield transport
    transport.cleanup()
