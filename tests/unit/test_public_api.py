"""The public API: pinned so additions and removals are deliberate."""

import importlib

import pytest

import msgframework

EXPECTED = {
    "Transport", "RPCTransport", "NotificationTransport", "TransportURL", "TransportHost",
    "TransportOptions", "get_transport", "get_rpc_transport", "get_notification_transport",
    "set_transport_defaults", "Target",
    "Notifier", "get_notification_listener", "get_batch_notification_listener",
    "NotificationResult", "NotificationFilter", "NotificationDispatcher",
    "BatchNotificationDispatcher", "NotificationServer", "BatchNotificationServer",
    "LoggingNotificationHandler", "LoggingErrorNotificationHandler", "PublishErrorsHandler",
    "RPCClient", "get_rpc_client", "get_rpc_server", "RPCServer", "RPCDispatcher",
    "RPCAccessPolicyBase", "DefaultRPCAccessPolicy", "LegacyRPCAccessPolicy",
    "ExplicitRPCAccessPolicy", "expected_exceptions", "expose",
    "MessageHandlingServer",
    "Serializer", "NoOpSerializer", "JsonPayloadSerializer", "RequestContextSerializer",
    "list_opts", "set_defaults",
    "MessagingException", "ConfigurationError", "InvalidTransportURL", "DriverLoadFailure",
    "ExecutorLoadFailure", "NotifierDriverLoadFailure", "InvalidTarget", "MessagingTimeout",
    "MessageDeliveryFailure", "ClientSendError", "MessageUndeliverable", "EarlierSendFailed",
    "ConfirmTimeout",
    "TransportDriverError", "BrokerUnavailable", "MalformedMessage", "RemoteError",
    "RPCVersionCapError", "RPCDispatcherError", "NoSuchMethod", "UnsupportedVersion",
    "ExpectedException", "MessagingServerError", "ServerListenError", "TaskTimeout",
    "UnsupportedFeature", "EventError",
}


def test_all_is_pinned():
    assert set(msgframework.__all__) == EXPECTED
    assert len(msgframework.__all__) == len(EXPECTED), "duplicates in __all__"


def test_every_name_resolves():
    for name in msgframework.__all__:
        assert getattr(msgframework, name) is not None, name


def test_every_exception_derives_from_the_root():
    for name in msgframework.__all__:
        obj = getattr(msgframework, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, msgframework.MessagingException), name


def test_oslo_messaging_public_names_are_all_here():
    """Code ports from oslo.messaging by changing the import."""
    oslo = pytest.importorskip("oslo_messaging")
    modules = {"dispatcher", "exceptions", "notify", "rpc", "serializer", "server", "target",
               "transport", "conffixture", "opts"}
    theirs = {name for name in dir(oslo) if not name.startswith("_") and name not in modules}
    theirs = {n for n in theirs if not isinstance(getattr(oslo, n), type(importlib))}
    missing = theirs - set(msgframework.__all__)
    assert not missing, f"oslo.messaging names we lack: {sorted(missing)}"
