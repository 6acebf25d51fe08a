"""Built-in event handlers, each a plugin in ``msgframework.events.handlers``.

======== ============================================ ==========================
name     what it does                                  options (env grammar)
======== ============================================ ==========================
logging  logs the event as JSON at a level             logger, level
file     appends JSON lines, or writes one dump each   directory, mode, filename
smtp     e-mails the event with its attachments        host, port, from, to, ...
notify   publishes it as a msgframework notification   url, topic, priority, ...
======== ============================================ ==========================
"""

from msgframework.events.handlers.base import ConfigField, EventHandler

__all__ = ["ConfigField", "EventHandler"]
