"""Executors: the eventlet one in a monkey-patched process, the warning without
patching, and the error for an unknown executor name."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.exceptions import ExecutorLoadFailure
from msgframework.executors import load_executor
from msgframework.rpc.client import get_rpc_client
from msgframework.rpc.server import get_rpc_server
from msgframework.target import Target
from msgframework.transport import get_rpc_transport

# Runs in a fresh interpreter: monkey_patch() must come before anything
# imports threading-based code, and it cannot be undone in this process.
EVENTLET_SERVER = textwrap.dedent("""
    import eventlet
    eventlet.monkey_patch()

    import json
    import sys

    from oslo_config import cfg

    from msgframework import opts
    from msgframework.executors import eventlet_patched
    from msgframework.rpc.client import get_rpc_client
    from msgframework.rpc.server import get_rpc_server
    from msgframework.target import Target
    from msgframework.transport import get_rpc_transport

    class Endpoint:
        def add(self, ctxt, a, b):
            eventlet.sleep(0)  # a green thread that yields still answers
            return a + b

    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    transport = get_rpc_transport(conf, "memory://eventlet-subprocess")
    server = get_rpc_server(transport, Target(topic="t", server="s"), [Endpoint()],
                            executor=None)
    server.start(timeout=10)
    client = get_rpc_client(transport, Target(topic="t"), timeout=10)
    results = [client.call({}, "add", a=i, b=1) for i in range(3)]
    server.stop(timeout=10)
    server.wait(timeout=10)
    server.wait(timeout=1)
    transport.cleanup()
    json.dump({"patched": eventlet_patched(), "executor": server.executor_type,
               "results": results}, sys.stdout)
""")


def test_eventlet_executor_is_chosen_and_serves_when_monkey_patched() -> None:
    pytest.importorskip("eventlet")
    proc = subprocess.run([sys.executable, "-c", EVENTLET_SERVER], capture_output=True,
                          text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out == {"patched": True, "executor": "EventletExecutor", "results": [1, 2, 3]}


def test_eventlet_executor_without_monkey_patching_warns(
        caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("eventlet")
    from msgframework.executors import EventletExecutor, eventlet_patched

    assert not eventlet_patched()  # the test process is never patched
    cls = load_executor("eventlet")
    assert cls is EventletExecutor
    with caplog.at_level(logging.WARNING, logger="msgframework.executors"):
        cls(4)
    (record,) = [r for r in caplog.records if r.name == "msgframework.executors"]
    assert record.levelno == logging.WARNING
    assert "not monkey-patched" in record.getMessage()


def test_unpatched_default_is_threading() -> None:
    assert load_executor(None).__name__ == "ThreadingExecutor"


@pytest.mark.parametrize("typo, meant", [("threadng", "threading"), ("blokcing", "blocking"),
                                         ("evenlet", "eventlet")])
def test_misspelt_executor_fails_with_did_you_mean(rpc_transport: Any, typo: str,
                                                   meant: str) -> None:
    with pytest.raises(ExecutorLoadFailure, match=f"did you mean '{meant}'") as info:
        get_rpc_server(rpc_transport, Target(topic="t", server="s"), [], executor=typo)
    assert info.value.executor == typo
    assert "threading" in str(info.value)  # the installed names are listed


def test_unknown_executor_without_close_match_lists_the_installed_ones(
        rpc_transport: Any) -> None:
    with pytest.raises(ExecutorLoadFailure, match="installed: ") as info:
        get_rpc_server(rpc_transport, Target(topic="t", server="s"), [], executor="zzz")
    assert "did you mean" not in str(info.value)


def test_threading_executor_serves_calls_one_at_a_time_on_one_thread(
        conf: cfg.ConfigOpts, memory_url: str) -> None:
    # The memory listener is polled by every idle worker at once and wakes
    # the one that blocked last: calls made one at a time are all served by
    # the worker that served the previous one, the other stays asleep (no
    # polling role handed on, so no third thread woken per call).
    class Who:
        def who(self, ctxt: Any) -> str:
            return threading.current_thread().name

    transport = get_rpc_transport(conf, memory_url)
    broker = transport.driver.broker
    server = get_rpc_server(transport, Target(topic="t", server="s"), [Who()],
                            executor="threading")
    server.start(timeout=10)
    try:
        client = get_rpc_client(transport, Target(topic="t"), timeout=10)
        client.call({}, "who")  # the first call starts a second worker
        names = []
        for _ in range(10):
            assert broker.wait_for_waiters(takers=2, timeout=10)  # both idle, polling
            names.append(client.call({}, "who"))
        assert len(set(names)) == 1, names
    finally:
        server.stop(timeout=10)
        server.wait(timeout=10)
        transport.cleanup()
