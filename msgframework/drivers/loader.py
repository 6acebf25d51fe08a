"""Loading plugins (transport drivers, executors, notifier drivers) through stevedore.

An unknown name fails loudly: the error lists the installed names and the
closest match, since a typo in a URL scheme is the common cause.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from typing import Any

from stevedore import driver as sv_driver
from stevedore import extension as sv_extension

__all__ = ["DRIVER_NAMESPACE", "EXECUTOR_NAMESPACE", "NOTIFIER_NAMESPACE",
           "installed_names", "load_class", "suggest", "import_driver_options"]

LOG = logging.getLogger(__name__)

DRIVER_NAMESPACE = "msgframework.drivers"
EXECUTOR_NAMESPACE = "msgframework.executors"
NOTIFIER_NAMESPACE = "msgframework.notify.drivers"

#: Modules that hold driver option groups, imported by list_opts().
_DRIVER_OPTION_MODULES = (
    "msgframework.drivers.memory.options",
    "msgframework.drivers.sqlite.options",
    "msgframework.drivers.rabbit.options",
)


def installed_names(namespace: str) -> list[str]:
    """The entry point names installed under ``namespace``, sorted."""
    mgr: sv_extension.ExtensionManager = sv_extension.ExtensionManager(
        namespace, invoke_on_load=False)
    return sorted(mgr.names())


def suggest(name: str, names: list[str]) -> str:
    """A ' (did you mean X?)' hint for a mistyped plugin name, or ''."""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_class(namespace: str, name: str) -> Any:
    """Return the plugin class registered as ``name``; raises LookupError naming the choices."""
    try:
        mgr: sv_driver.DriverManager = sv_driver.DriverManager(
            namespace, name, invoke_on_load=False)
    except Exception as exc:  # stevedore raises NoMatches (RuntimeError) and import errors
        names = installed_names(namespace)
        if name in names:
            raise LookupError(f"plugin {name!r} is installed but failed to load: {exc}") from exc
        raise LookupError(
            f"no plugin named {name!r} in {namespace}; installed: {', '.join(names) or 'none'}"
            f"{suggest(name, names)}") from None
    return mgr.driver


def import_driver_options() -> None:
    """Import every driver's options module so its group is registered for list_opts()."""
    for module in _DRIVER_OPTION_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            LOG.debug("Driver options module %s not importable: %s", module, exc)
