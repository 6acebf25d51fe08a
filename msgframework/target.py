"""The Target: where a message goes, or what a server listens to.

Same fields and meaning as oslo.messaging's ``Target``; unlike it, equal
targets hash equally, so targets can key dictionaries and sets.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Target", "version_is_compatible", "parse_version"]

_FIELDS = ("exchange", "topic", "namespace", "version", "server", "fanout")


class Target:
    """Identifies the destination of messages.

    :param exchange: scope for topics; None means the transport's
        ``control_exchange``.
    :param topic: the name of a set of interfaces, load-balanced across servers.
    :param namespace: which interface (set of methods) on the server.
    :param version: ``"X.Y"`` (or ``"X.Y.Z"``) interface version.
    :param server: send to, or listen as, one specific server.
    :param fanout: on a cast, deliver to every server listening on the topic.
    :param legacy_namespaces: extra namespaces an endpoint also accepts, for
        rolling renames; not kept by the callable copy.
    """

    __slots__ = (*_FIELDS, "legacy_namespaces", "accepted_namespaces")

    def __init__(
        self,
        exchange: str | None = None,
        topic: str | None = None,
        namespace: str | None = None,
        version: str | None = None,
        server: str | None = None,
        fanout: bool | None = None,
        legacy_namespaces: list[str] | None = None,
    ) -> None:
        self.exchange = exchange
        self.topic = topic
        self.namespace = namespace
        self.version = version
        self.server = server
        self.fanout = fanout
        self.legacy_namespaces = list(legacy_namespaces or [])
        self.accepted_namespaces = [namespace, *self.legacy_namespaces]

    def __call__(self, **kwargs: Any) -> Target:
        """Return a copy with the given fields overridden (legacy namespaces dropped)."""
        unknown = set(kwargs) - set(_FIELDS)
        if unknown:
            raise TypeError(f"Target has no field(s) {sorted(unknown)}")
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields.update(kwargs)
        return Target(**fields)

    def _key(self) -> tuple[Any, ...]:
        return (*(getattr(self, name) for name in _FIELDS), tuple(self.legacy_namespaces))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        attrs = [f"{name}={getattr(self, name)}" for name in _FIELDS
                 if getattr(self, name) is not None]
        if self.legacy_namespaces:
            attrs.append(f"legacy_namespaces={self.legacy_namespaces}")
        return f"<Target {', '.join(attrs)}>"


def parse_version(version: str) -> tuple[int, int, int]:
    """Parse ``"X.Y"`` or ``"X.Y.Z"`` into integers; ValueError names the input."""
    parts = str(version).split(".")
    if len(parts) not in (2, 3):
        raise ValueError(f"Version must contain a major and minor integer: {version!r}")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise ValueError(
            f"Version must contain a major and minor integer: {version!r}") from None
    if len(numbers) == 2:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


def version_is_compatible(imp_version: str | None, version: str | None) -> bool:
    """Whether an implementation at ``imp_version`` can serve a request for ``version``.

    Majors must be equal, the implementation's minor at least the requested
    one, and with equal minors its revision at least the requested one. No
    implementation version means always compatible; no requested version
    (with an implementation version) means incompatible, as in oslo.messaging.
    """
    if imp_version is None:
        return True
    if version is None:
        return False
    imp_major, imp_minor, imp_rev = parse_version(imp_version)
    major, minor, rev = parse_version(version)
    if imp_major != major or imp_minor < minor:
        return False
    if imp_minor == minor and imp_rev < rev:
        return False
    return True
