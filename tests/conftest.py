"""Fixtures shared by every test directory: msgframework's own pytest plugin."""

pytest_plugins = ["msgframework.testing.pytest_plugin"]
