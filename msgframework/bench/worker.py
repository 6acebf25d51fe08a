"""The entry point of every child process (and thread) of a scenario.

It imports the library it plays only here, inside the child, so the parent
and the other implementation's processes never load it.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any

from msgframework.bench.coord import Coord


def role_function(impl: str, role: str) -> Callable[[dict[str, Any], Coord, str], dict[str, Any]]:
    """The callable that plays ``role`` for ``impl`` (ours, oslo, kombu)."""
    if impl == "kombu":
        from msgframework.bench import roles_kombu

        return getattr(roles_kombu, role)  # type: ignore[no-any-return]
    from msgframework.bench import adapters, roles_api

    return functools.partial(getattr(roles_api, role), adapters.load(impl))


def run_role(impl: str, role: str, spec: dict[str, Any], coord: Coord, role_id: str,
             log_level: int = logging.WARNING) -> None:
    """Play one role; report ``("result", id, dict)`` or ``("error", id, traceback)``."""
    logging.basicConfig(level=log_level, format=f"[{impl}:{role_id}] %(levelname)s %(name)s: "
                                                "%(message)s")
    try:
        result = role_function(impl, role)(spec, coord, role_id)
    except BaseException:
        coord.results.put(("error", role_id, traceback.format_exc()))
        coord.stop.set()
        return
    coord.results.put(("result", role_id, result))
