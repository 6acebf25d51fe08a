"""Remote exceptions: serialization, rebuilding, allow list, fallbacks."""

from __future__ import annotations

import inspect
import json
import sys

import pytest

from msgframework import exceptions as exc_mod
from msgframework.exceptions import MessagingException, RemoteError
from msgframework.wire.failures import (
    deserialize_remote_exception,
    serialize_remote_exception,
)


class CustomError(Exception):
    """oslo-style: the message positionally, the details as kwargs."""

    def __init__(self, message=None, **kwargs):
        super().__init__(message)
        self.kwargs = kwargs


class UnbuildableError(Exception):
    def __init__(self):
        super().__init__("fixed")


def _raised(exc):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def test_serialized_failure_has_oslo_keys_and_traceback():
    data = json.loads(serialize_remote_exception(_raised(ValueError("bad"))))
    assert {"class", "module", "message", "tb", "args", "kwargs"} <= set(data)
    assert (data["class"], data["module"], data["message"]) == ("ValueError", "builtins", "bad")
    assert data["args"] == ["bad"]
    assert data["tb"][0].startswith("Traceback")
    assert "_raised" in "".join(data["tb"])


def test_traceback_can_be_withheld():
    data = json.loads(serialize_remote_exception(_raised(ValueError("bad")),
                                                 include_traceback=False))
    assert data["tb"] == []


def test_unencodable_args_are_sent_as_repr():
    data = json.loads(serialize_remote_exception(ValueError(object, {1})))
    assert data["args"] == [repr(object), repr({1})]


def test_builtin_is_rebuilt_as_remote_subclass_with_traceback_in_str():
    e = deserialize_remote_exception(serialize_remote_exception(_raised(KeyError("k"))), [])
    assert isinstance(e, KeyError)
    assert type(e).__name__ == "KeyError_Remote"
    assert type(e).__module__ == "builtins_Remote"
    assert e.args == ("k",)
    assert str(e).startswith("'k'\nTraceback")


def test_remote_subclasses_are_cached():
    a = deserialize_remote_exception(serialize_remote_exception(ValueError("1")), [])
    b = deserialize_remote_exception(serialize_remote_exception(ValueError("2")), [])
    assert type(a) is type(b)
    assert str(a).startswith("1") and str(b).startswith("2")


def test_remote_exception_reserializes_as_the_original_class():
    first = deserialize_remote_exception(serialize_remote_exception(ValueError("x")), [])
    data = json.loads(serialize_remote_exception(first))
    assert (data["class"], data["module"]) == ("ValueError", "builtins")


def test_custom_class_needs_its_module_allowed():
    text = serialize_remote_exception(_raised(CustomError("four", code=4)))
    refused = deserialize_remote_exception(text, [])
    assert isinstance(refused, RemoteError)
    assert refused.exc_type == "CustomError"
    assert "Traceback" in refused.traceback
    rebuilt = deserialize_remote_exception(text, [__name__])
    assert isinstance(rebuilt, CustomError)
    assert rebuilt.args == ("four",) and rebuilt.kwargs == {"code": 4}
    assert type(rebuilt).__module__ == __name__ + "_Remote"


@pytest.mark.parametrize("failure", [
    {"class": "UnbuildableError", "module": __name__, "message": "m", "args": ["x"]},
    {"class": "path", "module": "os", "message": "not an exception", "args": []},
    {"class": "Missing", "module": "builtins", "message": "m"},
    {"class": "X", "module": "no_such_module_here", "message": "m"},
    {"class": 5, "module": "builtins", "message": "m"},
])
def test_what_cannot_be_rebuilt_becomes_remote_error(failure):
    e = deserialize_remote_exception(json.dumps(failure), [__name__, "os",
                                                           "no_such_module_here"])
    assert isinstance(e, RemoteError)
    assert "m" in str(e) or "not an exception" in str(e)


@pytest.mark.parametrize("data", ["{bad json", "[1, 2]"])
def test_undecodable_failure_text_becomes_remote_error(data):
    e = deserialize_remote_exception(data, [])
    assert isinstance(e, RemoteError)
    assert "undecodable remote failure" in str(e)


def _sample_args(cls):
    """Constructor arguments for every class of our tree (signature-driven)."""
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.default is inspect.Parameter.empty]
    return [f"{p.name}-value" for p in params]


_OUR_CLASSES = [getattr(exc_mod, name) for name in exc_mod.__all__]


@pytest.mark.parametrize("cls", _OUR_CLASSES, ids=lambda c: c.__name__)
def test_every_msgframework_exception_round_trips(cls):
    original = cls(*_sample_args(cls))
    rebuilt = deserialize_remote_exception(serialize_remote_exception(_raised(original)), [])
    assert isinstance(rebuilt, cls), rebuilt
    assert type(rebuilt).__name__ == cls.__name__ + "_Remote"
    assert rebuilt.args == original.args
    assert str(rebuilt).startswith(str(original))
    for key, value in vars(original).items():
        if key not in ("exc_info", "ex", "target", "exception") and not key.startswith("_"):
            assert getattr(rebuilt, key) == value, key


def test_oslo_messaging_dispatcher_errors_map_to_ours():
    failure = {"class": "NoSuchMethod", "module": "oslo_messaging.rpc.dispatcher",
               "message": "Endpoint does not support RPC method m",
               "args": ["Endpoint does not support RPC method m"], "kwargs": {}, "tb": []}
    e = deserialize_remote_exception(json.dumps(failure), [])
    assert isinstance(e, exc_mod.NoSuchMethod)
    assert isinstance(e, MessagingException)
    assert str(e) == "Endpoint does not support RPC method m"


def test_oslo_dispatcher_errors_without_attributes_still_have_their_fields():
    """oslo.messaging sends no ``attributes`` key; handlers ported from it read
    ``exc.method`` / ``exc.version``, which must exist (None when unknown)."""
    failure = {"class": "UnsupportedVersion", "module": "oslo_messaging.rpc.dispatcher",
               "message": "Endpoint does not support RPC version 9.0",
               "args": ["Endpoint does not support RPC version 9.0"], "kwargs": {}, "tb": []}
    e = deserialize_remote_exception(json.dumps(failure), [])
    assert isinstance(e, exc_mod.UnsupportedVersion)
    assert e.version is None and e.method is None
