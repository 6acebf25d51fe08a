"""Notifications: the Notifier, its drivers, listeners, filters and log handlers.

``notifier``      Notifier (audit/debug/info/warn/error/critical/sample, prepare)
``drivers``       notifier drivers: messagingv2, messaging, log, noop, test, routing
``dispatcher``    NotificationDispatcher / BatchNotificationDispatcher, NotificationResult
``filter``        NotificationFilter, composable with & | ^ ~
``listener``      get_notification_listener, get_batch_notification_listener, servers
``logger``        LoggingNotificationHandler (records as ``logrecord`` notifications)
``log_handler``   LoggingErrorNotificationHandler / PublishErrorsHandler

Modules import each other by path; this package imports nothing so that
``import msgframework.notify.notifier`` stays cheap.
"""
