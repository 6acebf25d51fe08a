"""A forked child publishes on its own connection; the parent's keeps working."""

from __future__ import annotations

import os
from collections.abc import Callable

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.target import Target
from tests.functional.conftest import Cleanup
from tests.unit.drivers.rabbit.test_rabbit_memory import notification


def test_forked_child_and_parent_both_publish(driver: RabbitDriver, unique: Callable,
                                              cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    target = Target(topic=f"{topic}.info")
    driver.send_notification(target, {}, notification("before"), 2.0)
    assert driver.flush(10)  # the parent's send connection and its thread are up
    pid = os.fork()
    if pid == 0:  # the child: a fresh publisher state, its own connection
        code = 1
        try:
            driver.send_notification(target, {}, notification("child"), 2.0)
            code = 0 if driver.flush(10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    driver.send_notification(target, {}, notification("after"), 2.0)
    assert driver.flush(10)
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        got = listener.poll(timeout=10, batch_size=3, batch_timeout=10)
        assert sorted(m.message["event_type"] for m in got) == ["after", "before", "child"]
        for message in got:
            message.acknowledge()
    finally:
        listener.cleanup()
