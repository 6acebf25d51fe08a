"""The embedded default transport: processes on one host meet in one SQLite file.

===================  =====  ================================================
Feature              Here   How
===================  =====  ================================================
requeue              yes    the row goes to the back of its queue
pools                yes    one queue per (pool, exchange, topic.priority)
dead_letter          yes    rows move to the ``dead_letters`` table
mandatory            yes    ``at_least_once`` fails unless a live listener
                            is subscribed to the destination
multi_process        yes    WAL, ``busy_timeout``, short transactions
multi_host           no     one file on one host (no network filesystems)
durable              yes    every message is a committed row; a crashed
                            consumer's leases expire and are redelivered
call_monitor         yes    heartbeats are replies with ``ending`` false
queue_policy         yes    the message TTL and max length are kept in the
                            file and enforced in each insert's transaction
queue_policy_change  yes    a later policy replaces the row in the file and
                            trims what the queue holds
===================  =====  ================================================

URL form
--------
``sqlite://<path>[?option=value&...]``: the path is everything after
``sqlite://``. ``sqlite:///var/lib/app/msgs.db`` and
``sqlite:////var/lib/app/msgs.db`` both mean the absolute
``/var/lib/app/msgs.db``; ``sqlite://msgs.db`` is relative to the working
directory; ``sqlite://`` alone is the per-user default file (what
:func:`msgframework.opts.default_transport_url` names). Note that, unlike
SQLAlchemy, three slashes mean an absolute path. Query parameters override
the ``[msgframework_sqlite]`` options, e.g. ``?visibility_timeout=5``. See
:mod:`msgframework.drivers.sqlite.location`.

Delivery
--------
* Publishing is one transaction inserting one row per destination queue;
  it returns after the commit, so a sent message survives the crash of any
  process (``synchronous=FULL`` adds power cuts).
* A consumer claims rows with a lease that its process renews while it
  lives; acknowledging deletes the row. Acknowledgements of notifications
  are committed in groups ``ack_delay`` (5 ms) after the first, one
  transaction for many; the row stays leased until then, so a crash in
  between redelivers it (at-least-once), and a listener's cleanup commits
  them before it hands its leases back. An RPC request's acknowledgement
  is committed before ``acknowledge()`` returns, so a request the server
  has started is never delivered again (at-most-once). A consumer killed with SIGKILL stops
  renewing, and its unacknowledged messages are delivered again after
  ``visibility_timeout``. While a consumer lives, nothing it holds is given
  to another member of its pool.
* A message delivered ``max_deliveries`` times without acknowledgement, or
  whose body cannot be decoded, is dead-lettered and logged.
* Waiting costs nothing: listeners sleep on a Unix datagram socket that
  publishers poke after committing (see :mod:`.wakeup`), with a
  ``poll_interval`` safety net that bounds latency if a wake-up is lost.
* RPC: each driver instance has a ``reply_<uuid>`` queue read by one thread;
  calls wait on :class:`msgframework.drivers.common.ReplyWaiters`.
  A request that no server took within the call's timeout expires.
* Fanout and reply queues belong to a live process: they are heartbeated
  and deleted (with their messages) ``transient_queue_ttl`` after their
  process stops. RPC topic/server queues, notification queues and pools are
  durable, as on RabbitMQ.

Files: the database ``<path>`` (with SQLite's ``-wal`` and ``-shm``) and
``<path>-lock``, which our writers ``flock`` to queue in the kernel instead of
sleeping in SQLite's busy handler. Wake-up sockets are abstract on Linux
(no files); elsewhere they live in ``<path>.wake/``.

Modules: ``options`` (the option group), ``location`` (URL to path),
``store`` (schema, per-thread connections and statements), ``wakeup``
(wake-up sockets), ``listener`` (listeners and incoming messages),
``acks`` (group commit of acknowledgements), ``background`` (lease keeper
and reply consumer), ``driver`` (the driver).
"""
