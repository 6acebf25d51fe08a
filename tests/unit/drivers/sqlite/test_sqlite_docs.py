"""The feature table opening the package docstring matches the declared capabilities."""

from __future__ import annotations

import re

import msgframework.drivers.sqlite as package
from msgframework.drivers.base import Capability
from msgframework.drivers.sqlite.driver import SQLiteDriver


def test_feature_table_matches_capabilities():
    rows = dict(re.findall(r"^(\w+)\s+(yes|no)\b", package.__doc__ or "", re.MULTILINE))
    assert set(rows) - Capability.PROVISIONAL == set(Capability.ALL)
    claimed = {name for name, value in rows.items() if value == "yes"}
    assert claimed == set(SQLiteDriver.capabilities)


def test_entry_point_loads_the_driver():
    from msgframework.drivers.loader import DRIVER_NAMESPACE, load_class

    assert load_class(DRIVER_NAMESPACE, "sqlite") is SQLiteDriver


def test_options_are_listed_for_the_config_generator():
    from msgframework.opts import list_opts

    groups = dict(list_opts())
    names = {opt.name for opt in groups["msgframework_sqlite"]}
    assert {"visibility_timeout", "busy_timeout", "poll_interval", "transient_queue_ttl",
            "max_deliveries", "synchronous"} <= names
