"""The in-process transport: a faithful AMQP-style broker living in memory.

===================  =====  ================================================
Feature              Here   How
===================  =====  ================================================
requeue              yes    the message goes back to the front of its queue,
                            as RabbitMQ puts it back in its place
pools                yes    one queue named after the pool, bound to each
                            ``<topic>.<priority>`` of its listeners
dead_letter          yes    kept in ``Broker.dead_letters`` with the reason
mandatory            yes    ``at_least_once`` fails unless a listener
                            consumes the destination queue
multi_process        no     one process only
multi_host           no     one process only
durable              no     gone when the process exits
call_monitor         yes    heartbeats are replies with ``ending`` false
queue_policy         yes    message TTL and max length (drop-head) kept by
                            the queue, applied as each message is stored
queue_policy_change  yes    a later policy replaces the queue's and trims
                            what it holds
===================  =====  ================================================

URL form
--------
``memory://[name][?option=value&...]`` (alias ``fake://``). The URL's host
and virtual host, joined by ``/``, name the broker: ``memory://tests`` and
``memory:///tests`` share one broker, ``memory://`` is the default broker.
Transports of one process with the same name talk to each other; give each
test a unique name (``msgframework.testing.MemoryBrokerFixture`` does) to
isolate it. Query parameters override the ``[msgframework_memory]``
options, e.g. ``?max_deliveries=3``.

Why it is not a shortcut
------------------------
* Every message is JSON-encoded with the same wire code as the RabbitMQ
  driver (envelope, ``_context_`` keys, reply keys), so a payload JSON cannot
  encode fails at send time exactly as on a broker, and listeners decode the
  bytes a broker would carry; an undecodable message is dead-lettered with a
  ``MalformedMessage`` reason and logged, never returned.
* Topology follows oslo.messaging's on RabbitMQ, per exchange
  (``target.exchange`` or ``control_exchange``): the ``<topic>`` queue shared
  by a topic's servers, ``<topic>.<server>``, an exclusive queue per server
  on the ``<topic>_fanout`` exchange, ``<topic>.<priority>`` notification
  queues created by the publisher (store and forward), pool queues.
  RPC topic and server queues are also created by the publisher, so a cast
  sent before its server starts is kept (as on the SQLite driver).
* Acknowledgement is real: a message is in flight until acknowledged,
  requeued or dead-lettered; ``delivery_count`` grows with each delivery; a
  listener hands out at most ``prefetch`` unsettled messages; a listener's
  cleanup requeues what it still holds. A message requeued
  ``max_deliveries`` times is dead-lettered (a notification listener's
  higher ``max_delivery_attempts`` raises that for its subscription).
* A request not taken within its call's timeout expires, as with AMQP's
  per-message expiration.
* Waiting uses conditions only: a publish wakes one waiting listener on its
  own condition; :meth:`Broker.wait_until_idle` waits until every queue is
  drained and every delivery settled.

Modules: ``options`` (the option group), ``broker`` (the broker and its
registry), ``listener`` (listeners and incoming messages), ``driver``.
"""

from msgframework.drivers.memory.broker import Broker, DeadLetter, get_broker, reset_broker

__all__ = ["Broker", "DeadLetter", "get_broker", "reset_broker"]
