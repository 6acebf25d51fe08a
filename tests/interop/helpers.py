"""Endpoints and exceptions shared by the interop tests.

They live in a module of their own so that both libraries can rebuild
:class:`InteropError` from its module name (``tests.interop.helpers``) when
that module is in ``allowed_remote_exmods``.
"""

from __future__ import annotations

import threading
from typing import Any

from msgframework.testing.waiting import Recorder

#: The module name a client must allow to get InteropError back as itself.
MODULE = __name__


class InteropError(Exception):
    """A custom exception carrying a keyword argument, as oslo services' do."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.kwargs = {"code": code}  # what both libraries send and rebuild with


class InfoRecorder:
    """A notification endpoint for the ``info`` priority only, tagged with its owner."""

    def __init__(self, recorder: Recorder, tag: str) -> None:
        self.recorder = recorder
        self.tag = tag

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self.recorder.add((self.tag, payload))


class BatchRecorder(Recorder):
    """A batch endpoint for ``info``: records each list it is given."""

    def info(self, messages: list[dict[str, Any]]) -> None:
        self.add(list(messages))


class RPCEndpoint:
    """Methods the RPC tests call; ``casts`` records every cast it receives."""

    def __init__(self, name: str, casts: Recorder | None = None) -> None:
        self.name = name
        self.casts = casts if casts is not None else Recorder()

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def context(self, ctxt: Any) -> Any:
        return dict(ctxt)

    def whoami(self, ctxt: Any) -> str:
        return self.name

    def record(self, ctxt: Any, value: Any) -> None:
        self.casts.add((self.name, value))

    def fail_builtin(self, ctxt: Any, text: str) -> None:
        raise ValueError(text)

    def fail_custom(self, ctxt: Any, text: str, code: int) -> None:
        raise InteropError(text, code=code)

    def slow(self, ctxt: Any, seconds: float) -> str:
        # Simulated work that outlasts the caller's call_monitor_timeout.
        threading.Event().wait(seconds)
        return "done"
