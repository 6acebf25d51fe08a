"""Testing helpers for msgframework and the code that uses it.

* :mod:`.fixtures`: ``ConfFixture`` (as oslo.messaging's) and
  ``MemoryBrokerFixture`` (an isolated in-memory broker per test).
* :mod:`.pytest_plugin`: the same as pytest fixtures (``conf``,
  ``memory_broker``, ``memory_url``, ``rpc_transport``, ...).
* :mod:`.waiting`: waiting on conditions instead of sleeping
  (``wait_for``, ``Recorder``, ``RecordingEndpoint``).
* :mod:`.conformance`: the checks every transport driver must pass.

``fixtures`` and ``pytest`` are test dependencies: import the submodule you
need rather than this package when only one of them is installed.
"""

from msgframework.testing.fixtures import ConfFixture, MemoryBrokerFixture
from msgframework.testing.waiting import (
    CollectingEndpoint,
    Recorder,
    RecordingEndpoint,
    wait_for,
)

__all__ = ["ConfFixture", "MemoryBrokerFixture", "wait_for", "Recorder",
           "RecordingEndpoint", "CollectingEndpoint"]
