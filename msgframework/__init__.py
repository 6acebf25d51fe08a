"""msgframework: RPC and notification messaging for Python services.

The public API follows oslo.messaging's names and semantics, so code ports
by changing ``import oslo_messaging`` to ``import msgframework``. Everything
a service needs is importable from here; ``__all__`` is pinned by a test.

Heavier optional parts live in their own packages and are imported from
there: ``msgframework.events`` (e3-style events), ``msgframework.hubs``
(filtered subscriptions with consumers), ``msgframework.web`` (the live page,
needs the ``web`` extra) and ``msgframework.testing`` (fixtures and driver
conformance checks).
"""

from msgframework.drivers.base import TransportOptions
from msgframework.exceptions import (
    BrokerUnavailable,
    ClientSendError,
    ConfigurationError,
    ConfirmTimeout,
    DriverLoadFailure,
    EarlierSendFailed,
    EventError,
    ExecutorLoadFailure,
    ExpectedException,
    InvalidTarget,
    InvalidTransportURL,
    MalformedMessage,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingException,
    MessagingServerError,
    MessagingTimeout,
    NoSuchMethod,
    NotifierDriverLoadFailure,
    RemoteError,
    RPCDispatcherError,
    RPCVersionCapError,
    ServerListenError,
    TaskTimeout,
    TransportDriverError,
    UnsupportedFeature,
    UnsupportedVersion,
)
from msgframework.notify.dispatcher import (
    BatchNotificationDispatcher,
    NotificationDispatcher,
    NotificationResult,
)
from msgframework.notify.filter import NotificationFilter
from msgframework.notify.listener import (
    BatchNotificationServer,
    NotificationServer,
    get_batch_notification_listener,
    get_notification_listener,
)
from msgframework.notify.log_handler import LoggingErrorNotificationHandler, PublishErrorsHandler
from msgframework.notify.logger import LoggingNotificationHandler
from msgframework.notify.notifier import Notifier
from msgframework.opts import list_opts, set_defaults
from msgframework.rpc.client import RPCClient, get_rpc_client
from msgframework.rpc.decorators import expected_exceptions, expose
from msgframework.rpc.dispatcher import RPCDispatcher
from msgframework.rpc.policies import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
)
from msgframework.rpc.server import RPCServer, get_rpc_server
from msgframework.serializer import (
    JsonPayloadSerializer,
    NoOpSerializer,
    RequestContextSerializer,
    Serializer,
)
from msgframework.server import MessageHandlingServer
from msgframework.target import Target
from msgframework.transport import (
    NotificationTransport,
    RPCTransport,
    Transport,
    get_notification_transport,
    get_rpc_transport,
    get_transport,
    set_transport_defaults,
)
from msgframework.transport_url import TransportHost, TransportURL

__all__ = [
    # transports
    "Transport", "RPCTransport", "NotificationTransport", "TransportURL", "TransportHost",
    "TransportOptions", "get_transport", "get_rpc_transport", "get_notification_transport",
    "set_transport_defaults",
    # addressing
    "Target",
    # notifications
    "Notifier", "get_notification_listener", "get_batch_notification_listener",
    "NotificationResult", "NotificationFilter", "NotificationDispatcher",
    "BatchNotificationDispatcher", "NotificationServer", "BatchNotificationServer",
    "LoggingNotificationHandler", "LoggingErrorNotificationHandler", "PublishErrorsHandler",
    # rpc
    "RPCClient", "get_rpc_client", "get_rpc_server", "RPCServer", "RPCDispatcher",
    "RPCAccessPolicyBase", "DefaultRPCAccessPolicy", "LegacyRPCAccessPolicy",
    "ExplicitRPCAccessPolicy", "expected_exceptions", "expose",
    # servers
    "MessageHandlingServer",
    # serializers
    "Serializer", "NoOpSerializer", "JsonPayloadSerializer", "RequestContextSerializer",
    # configuration
    "list_opts", "set_defaults",
    # exceptions
    "MessagingException", "ConfigurationError", "InvalidTransportURL", "DriverLoadFailure",
    "ExecutorLoadFailure", "NotifierDriverLoadFailure", "InvalidTarget", "MessagingTimeout",
    "MessageDeliveryFailure", "ClientSendError", "MessageUndeliverable", "EarlierSendFailed",
    "ConfirmTimeout",
    "TransportDriverError", "BrokerUnavailable", "MalformedMessage", "RemoteError",
    "RPCVersionCapError", "RPCDispatcherError", "NoSuchMethod", "UnsupportedVersion",
    "ExpectedException", "MessagingServerError",
    "ServerListenError", "TaskTimeout", "UnsupportedFeature", "EventError",
]
