"""The RabbitMQ driver, wire- and topology-compatible with oslo.messaging.

URL: ``rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?option=value``
(``kombu://`` is an alias; ``kombu+memory://`` runs the same driver on
kombu's in-process transport, for tests). Query parameters override options
of ``[msgframework_rabbit]`` (oslo's ``[oslo_messaging_rabbit]`` is read as
a deprecated alias).

===================  ===  ==========================================================
Capability           Has  How
===================  ===  ==========================================================
requeue              yes  republish to the same queue with a delivery-count header,
                          then ack; past ``max_delivery_attempts``: dead-letter
pools                yes  a queue named by the pool, bound to ``<topic>.<priority>``
dead_letter          yes  ``<exchange>.dlx`` (topic) + ``<exchange>.dlq``, reason in a
                          header; undecodable messages go there too
mandatory            yes  AMQP ``mandatory`` + basic.return -> MessageUndeliverable
multi_process        yes  a broker; a forked child opens its own connections
multi_host           yes  several hosts in the URL: failover, round-robin or shuffle
durable              yes  persistent messages; durable queues with
                          ``amqp_durable_queues`` or ``rabbit_quorum_queue``
call_monitor         yes  heartbeat replies (``ending: false``)
queue_policy         yes  ``x-message-ttl``, ``x-max-length`` + ``x-overflow=drop-head``
                          arguments on the queues a policy's listener or sender
                          declares (not on ``kombu+memory://``, which ignores
                          arguments)
queue_policy_change  no   RabbitMQ fixes a queue's arguments when it is
                          created: an existing queue is used as it is (one warning);
                          change bounds of live queues with ``rabbitmqctl set_policy``
===================  ===  ==========================================================

Always: publisher confirms with ``confirm_timeout``, pipelined on one
send connection (``confirm_window`` notifications and casts in flight; nothing
opened per message), one connection per listener and
one for replies, AMQP heartbeats on threads that run no application code,
reconnect with backoff and jitter, resubscribe after a reconnection.

Quorum queues: ``requeue()`` republishes (our count header), so it never
counts towards ``rabbit_quorum_delivery_limit``; the broker counts only its
own returns (a connection lost or a listener stopped with messages
unsettled, ``x-delivery-count``, which ``delivery_count`` honours). A
message returned past that limit is dropped by RabbitMQ itself unless the
queue has a dead-letter policy: set one (``rabbitmqctl set_policy``; a
policy, unlike an argument, causes no 406 with oslo.messaging services).

Modules: ``options`` (the option list), ``settings`` (validated, frozen),
``connection`` (hosts, failover, backoff), ``declarations`` (topology),
``publisher``, ``consumer``, ``listener``, ``reply``, ``errors``, ``driver``.
"""
