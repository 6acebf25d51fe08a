"""Remote exceptions: serialized by the RPC server, rebuilt by the caller.

The rebuilt exception is an instance of a subclass ``<Name>_Remote`` of the
original class (module ``<module>_Remote``), so ``except OriginalClass``
keeps working while ``str()`` shows the message plus the server's
traceback. A class or module ending in ``_Remote`` is sent without the
suffix, so an exception re-raised through several hops stays itself.

Which classes may be rebuilt (importing modules named by a remote peer is
a code-execution risk, so this is an allow list, as in oslo.messaging):

* ``builtins`` (and ``exceptions``, its Python 2 name): always;
* ``msgframework.exceptions``: always, it is our own tree. An exception of
  oslo.messaging whose class name exists there (``NoSuchMethod``,
  ``UnsupportedVersion``, ``MessagingTimeout``...) is rebuilt as ours, so
  code ported from oslo.messaging keeps catching it;
* any module listed in ``allowed_remote_exmods``, matched exactly.

Anything else, a class that is not an ``Exception``, or a constructor that
refuses the sent ``args``/``kwargs`` gives :class:`RemoteError` carrying the
class name, message and traceback text.

Our own exceptions (subclasses of ``MessagingException``) take semantic
constructor parameters (``NoSuchMethod(method)``) rather than their message,
so they are rebuilt without calling ``__init__``: ``args`` and the public
attributes sent under the extra ``attributes`` key are restored as they
were. oslo.messaging ignores that key.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import sys
import threading
import traceback
import types
from typing import Any

from msgframework.exceptions import MalformedMessage, MessagingException, RemoteError
from msgframework.wire.jsonutil import dumps, loads

__all__ = ["REMOTE_POSTFIX", "ALWAYS_ALLOWED_MODULES", "serialize_remote_exception",
           "deserialize_remote_exception"]

LOG = logging.getLogger(__name__)

REMOTE_POSTFIX = "_Remote"
_BUILTINS = "builtins"
_OUR_EXCEPTIONS = "msgframework.exceptions"
ALWAYS_ALLOWED_MODULES = frozenset({_BUILTINS, "exceptions", _OUR_EXCEPTIONS})

ExcInfo = tuple[type[BaseException] | None, BaseException | None,
                types.TracebackType | None]


# -- serializing ------------------------------------------------------------

def _json_safe(value: Any) -> Any:
    """``value`` if JSON can encode it, else its repr: a failure must always send."""
    try:
        dumps(value)
    except (TypeError, ValueError, RecursionError):
        return repr(value)
    return value


def _attributes(exc: BaseException) -> dict[str, Any]:
    """Public instance attributes of one of our exceptions, JSON-safe."""
    return {key: _json_safe(value) for key, value in vars(exc).items()
            if not key.startswith("_") and key != "exc_info"}


def serialize_remote_exception(exc_info: ExcInfo | BaseException,
                               include_traceback: bool = True) -> str:
    """The JSON text describing an exception, for a reply's ``failure`` key.

    ``exc_info`` is a ``sys.exc_info()`` tuple (or the exception itself).
    With ``include_traceback`` False the ``tb`` list is empty, so servers
    can keep their internals private.
    """
    if isinstance(exc_info, BaseException):
        exc: BaseException = exc_info
        exc_info = (type(exc), exc, exc.__traceback__)
    else:
        if exc_info[1] is None:
            raise ValueError("serialize_remote_exception needs an exception, got None")
        exc = exc_info[1]
    cls = type(exc)
    name, module = cls.__name__, cls.__module__
    if name.endswith(REMOTE_POSTFIX) and module.endswith(REMOTE_POSTFIX):
        name = name[:-len(REMOTE_POSTFIX)]
        module = module[:-len(REMOTE_POSTFIX)]
    tb = traceback.format_exception(*exc_info) if include_traceback else []
    kwargs = getattr(exc, "kwargs", None)
    data: dict[str, Any] = {
        "class": name,
        "module": module,
        "message": str(exc),
        "tb": tb,
        "args": [_json_safe(arg) for arg in exc.args],
        "kwargs": ({str(k): _json_safe(v) for k, v in kwargs.items()}
                   if isinstance(kwargs, dict) else {}),
    }
    if isinstance(exc, MessagingException):
        data["attributes"] = _attributes(exc)
    return dumps(data)


# -- rebuilding -------------------------------------------------------------

_remote_classes: dict[type, type] = {}
_remote_classes_lock = threading.Lock()


def _remote_str(self: BaseException) -> str:
    text = self.__dict__.get("_remote_message")
    return text if text is not None else super(type(self), self).__str__()


def _remote_class(klass: type[BaseException]) -> type[BaseException] | None:
    """The cached ``<Name>_Remote`` subclass of ``klass``, None if it cannot exist."""
    remote = _remote_classes.get(klass)
    if remote is not None:
        return remote
    module = "builtins" if klass.__module__ == "builtins" else klass.__module__
    try:
        remote = type(klass.__name__ + REMOTE_POSTFIX, (klass,),
                      {"__str__": _remote_str, "__module__": module + REMOTE_POSTFIX,
                       "__qualname__": klass.__qualname__ + REMOTE_POSTFIX})
    except TypeError:   # a class that refuses subclassing
        return None
    with _remote_classes_lock:
        return _remote_classes.setdefault(klass, remote)


def _find_class(name: str, module: str, allowed: list[str]) -> type | None:
    """The class to rebuild, or None when the peer may not make us import it."""
    if module == "exceptions":
        module = _BUILTINS
    elif module.startswith("oslo_messaging") and module not in allowed:
        ours = getattr(sys.modules[_OUR_EXCEPTIONS], name, None)
        if isinstance(ours, type) and issubclass(ours, MessagingException):
            return ours
    if module not in ALWAYS_ALLOWED_MODULES and module not in allowed:
        return None
    mod = importlib.import_module(module)
    return getattr(mod, name)


@functools.lru_cache(maxsize=256)
def _init_parameters(klass: type[BaseException]) -> tuple[str, ...]:
    """Names of ``klass.__init__``'s named parameters (not self, *args, **kwargs)."""
    try:
        params = inspect.signature(klass.__init__).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(p.name for p in params if p.name != "self" and p.kind in (
        p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _construct(klass: type[BaseException], args: list[Any], kwargs: dict[str, Any],
               attributes: Any) -> BaseException:
    if issubclass(klass, MessagingException):
        exc: BaseException = klass.__new__(klass)
        exc.args = tuple(args)
        exc.msg = args[0] if args else None  # type: ignore[attr-defined]
        # Senders other than us (oslo.messaging) send no attributes: give every
        # constructor parameter at least a None value, so handlers reading e.g.
        # ``exc.method`` do not crash on an AttributeError.
        for name in _init_parameters(klass):  # type: ignore[arg-type]  # classes hash
            if not hasattr(exc, name):
                setattr(exc, name, None)
        if isinstance(attributes, dict):
            for key, value in attributes.items():
                if isinstance(key, str) and not key.startswith("_"):
                    setattr(exc, key, value)
        return exc
    built = klass(*args, **kwargs)
    if not isinstance(built, klass):    # a __new__ returning something else
        raise TypeError(f"{klass.__name__}(...) did not return an instance")
    return built


def deserialize_remote_exception(data: str, allowed_remote_exmods: list[str]
                                 ) -> BaseException:
    """Rebuild the exception described by ``data`` (see the module docstring).

    Never raises: whatever goes wrong, the caller gets an exception to raise,
    at worst a :class:`RemoteError` describing the problem.
    """
    try:
        failure = loads(data)
        if not isinstance(failure, dict):
            raise MalformedMessage(f"remote failure is a JSON {type(failure).__name__}")
    except MalformedMessage as problem:
        error = RemoteError(None, f"undecodable remote failure: {problem}", None)
        error.__cause__ = problem
        return error

    name = failure.get("class")
    module = failure.get("module")
    message = failure.get("message")
    message = "" if message is None else str(message)
    tb = failure.get("tb") or []
    tb_text = "".join(map(str, tb)) if isinstance(tb, list) else str(tb)
    args = failure.get("args") or []
    kwargs = failure.get("kwargs") or {}
    if not isinstance(name, str) or not isinstance(module, str):
        return RemoteError(str(name), message, tb_text)

    try:
        klass = _find_class(name, module, allowed_remote_exmods)
        if klass is None:
            return RemoteError(name, message, tb_text)
        if not (isinstance(klass, type) and issubclass(klass, Exception)):
            raise TypeError(f"{module}.{name} is not an Exception class")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError("remote failure 'args' must be a list and 'kwargs' an object")
        remote = _remote_class(klass)
        rebuilt = _construct(remote or klass, args, kwargs, failure.get("attributes"))
    except Exception as error:  # any failure to rebuild degrades to RemoteError
        LOG.warning("Cannot rebuild remote exception %s.%s: %s", module, name, error)
        return RemoteError(name, message, tb_text)

    full = message + "\n" + tb_text if tb_text else message
    if remote is not None:
        rebuilt._remote_message = full  # type: ignore[attr-defined]
    else:   # oslo's fallback for a class that cannot be subclassed
        rebuilt.args = (full,) + rebuilt.args[1:]
    return rebuilt
