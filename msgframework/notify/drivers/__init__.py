"""Notifier drivers, loaded from the ``msgframework.notify.drivers`` entry points.

``messagingv2``  publish with oslo's 2.0 envelope (default with a transport)
``messaging``    publish without envelope (1.0)
``log``          log records on ``msgframework.notification.<event_type>``
``noop``         discard
``test``         record in ``msgframework.notify.drivers.test.NOTIFICATIONS``
``routing``      pick drivers per event type and priority from a YAML file

The contract is in :mod:`msgframework.notify.drivers.base`.
"""
