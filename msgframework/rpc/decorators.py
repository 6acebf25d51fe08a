"""Decorators for endpoint methods: ``@expose`` and ``@expected_exceptions``.

Both are re-exported by :mod:`msgframework.rpc.server`, where oslo.messaging
keeps them, so ported imports keep working.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from msgframework.exceptions import ExpectedException

__all__ = ["expose", "expected_exceptions"]

F = TypeVar("F", bound=Callable[..., Any])


def expose(func: F) -> F:
    """Mark a method callable under :class:`ExplicitRPCAccessPolicy`."""
    func.exposed = True  # type: ignore[attr-defined]
    return func


def expected_exceptions(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """Declare exceptions that are part of a method's contract.

    When the method raises one of them (or a subclass), the server sends it
    back to the caller as usual but logs it at debug level instead of as an
    error with a traceback: a "not found" answer is not a server fault.
    Other exceptions are untouched.
    """
    for exc in exceptions:
        if not (isinstance(exc, type) and issubclass(exc, BaseException)):
            raise TypeError(f"expected_exceptions() takes exception classes, got {exc!r}")

    def outer(func: F) -> F:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except exceptions:
                # ExpectedException() records sys.exc_info() of the exception
                # being handled, so the server replies with the original.
                raise ExpectedException() from None
        return inner  # type: ignore[return-value]

    return outer
