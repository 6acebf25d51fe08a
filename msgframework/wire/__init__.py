"""oslo.messaging's wire format: the one place in msgframework that knows it.

Every driver that talks to something outside the process (RabbitMQ, the
SQLite file) and the in-memory driver (so tests exercise the same bytes)
goes through these modules, so the format can only drift in one place.
Golden messages captured from the real oslo.messaging 18.3.1 pin it in
``tests/unit/wire/``.

Modules
-------
``jsonutil``      ``dumps``/``loads``: compact JSON, datetimes as oslo writes them
``envelope``      the ``oslo.version``/``oslo.message`` envelope; body encode/decode
``context``       ``_context_<key>`` flattening of the request context
``rpc``           RPC requests and replies
``notification``  notification messages
``failures``      remote exceptions: serialize on the server, rebuild on the client
``ids``           uuid4 hex identifiers (``_msg_id``, ``_unique_id``), made fast

Body on the broker
------------------
A message is a JSON object. With envelope version 2.0 (RPC, and the
``messagingv2`` notifier) the body is *double-encoded*::

    {"oslo.version": "2.0", "oslo.message": "<JSON text of the message>"}

With version 1.0 (the ``messaging`` notifier) the message dict is the body.
A receiver accepts both: a JSON object without both envelope keys is taken
as a bare message. An envelope whose version is not compatible with 2.0
(other major, or a higher minor) is a :class:`MalformedMessage`.

JSON: ``datetime`` values become ``"%Y-%m-%dT%H:%M:%S.%f"`` text (aware
ones converted to UTC first, since oslo's timestamps are naive UTC), ``date``
values ``"%Y-%m-%d"``; any other value JSON cannot encode is a ``TypeError``
naming its type (turning objects into primitives is the serializer's job).

Context
-------
Each context key ``k`` becomes a top-level key ``_context_k`` of the
message. A context is a dict or an object with ``to_dict()``.

RPC request (message inside the envelope)
-----------------------------------------
=================  =====================  ===================================
Key                Present                Value
=================  =====================  ===================================
``method``         always                 method name (str)
``args``           always                 dict of keyword arguments
``namespace``      target.namespace set   str
``version``        target.version set     ``"X.Y"``
``_msg_id``        call                   uuid4 hex; the reply carries it back
``_reply_q``       call                   name of the caller's reply queue
``_timeout``       call                   the call_monitor_timeout, or null
``_unique_id``     always                 uuid4 hex, for duplicate detection
``_context_<k>``   per context key        context values
=================  =====================  ===================================

RPC reply (sent on the default exchange to ``_reply_q``)
--------------------------------------------------------
=================  ====================================================
Key                Value
=================  ====================================================
``result``         the return value (null for a heartbeat or failure)
``failure``        null, or the JSON text of ``failures.serialize_remote_exception``
``ending``         true on the final reply, false on a call-monitor heartbeat
``_msg_id``        the request's ``_msg_id``
``_unique_id``     uuid4 hex
=================  ====================================================

A reply has no context keys. A reply without ``ending`` counts as not final
(oslo's old two-message protocol sent the result, then ``{"ending": true}``).

Notification
------------
=================  ====================================================
Key                Value
=================  ====================================================
``message_id``     ``str(uuid4())`` (with dashes)
``publisher_id``   str
``event_type``     str (required on receipt)
``priority``       upper case, e.g. ``"INFO"`` (required on receipt)
``payload``        the serialized payload
``timestamp``      ``str(utcnow())``: naive UTC, ``"YYYY-MM-DD HH:MM:SS.ffffff"``
``_unique_id``     uuid4 hex
``_context_<k>``   the (sanitised) context
=================  ====================================================

Remote failure (the ``failure`` text)
-------------------------------------
A JSON object: ``class``, ``module``, ``message`` (``str(exc)``), ``tb``
(list of traceback lines, empty when tracebacks are not sent), ``args``
(values JSON cannot encode are sent as their ``repr``), ``kwargs`` (the
exception's ``kwargs`` attribute, if a dict). A ``_Remote`` suffix on class
and module is stripped so a rebuilt remote exception re-raises as itself.
msgframework adds ``attributes`` (public instance attributes of our own
exceptions, so they rebuild exactly); oslo.messaging ignores that key.
"""
