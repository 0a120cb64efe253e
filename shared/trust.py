"""Bus trust: the checks reporting makes on each message before it is applied (security
issue items 5 and 6).

`IntakeChecks` is the validation hook `shared.inbox.BatchConsumer` runs on every parsed
message (`validate=`); a message that fails is dead-lettered alone, with its kind in
`x-qaloop-error-kind` and a human reason in `x-qaloop-reason`, and the stream goes on:

- `untrusted-source`: the CloudEvents `source` matches no entry of `QALOOP_BUS_SOURCES`, or
  its entry does not allow the event's type or tenant, or the entry names an AMQP user and
  the message's `user_id` property (validated by RabbitMQ against the publishing
  connection's user) is missing or another user's.
- `raw-identifier`: `data.case_ref` / `data.child_ref` / `data.worker_id`, or a `case:` subject, is not a
  pseudonym of an accepted key id (`k1:<16 hex>`, `shared.pseudonym`). The message is never
  stored.

`QALOOP_BUS_SOURCES` maps a source to what it may publish::

    {"/qaloop/audit": {"events": ["audit", "ActionRaised", "ActionCompleted"],
                       "tenants": ["E10000034"], "user": "qaloop-audit"},
     "/cms/*":        {"events": ["casework"], "user": "cms-gateway"}}

- the key is a source exactly, or a prefix ending in `*` (`/cms/*` matches `/cms/mosaic`);
  an exact key wins over a prefix, and a longer prefix over a shorter one;
- `events`: strand names (every event type of that strand: `audit`, `feedback`,
  `complaints`, `casework`, `reporting`) and/or event types (`ActionRaised`);
- `tenants` (optional): the tenants it may publish for; absent or null = `QALOOP_BUS_TENANTS`,
  and when that is empty too, any tenant;
- `user` (optional): the AMQP user its messages must be published by (`user_id`); absent =
  not checked.

Unset, `DEFAULT_BUS_SOURCES` applies: each qaloop strand its own events and actions, and
any case-management system (`/cms/*`) the casework events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.events import EVENT_MODELS, STRANDS, PoisonEvent
from shared.inbox import Received
from shared.pseudonym import CASE_SUBJECT_PREFIX, check_key_id, key_id_of

UNTRUSTED_SOURCE = "untrusted-source"
RAW_IDENTIFIER = "raw-identifier"
# The data fields that carry a case reference and must be pseudonyms.
PSEUDONYM_FIELDS = ("case_ref", "child_ref", "worker_id")

_ACTIONS = ["ActionRaised", "ActionCompleted"]
DEFAULT_BUS_SOURCES: dict[str, dict[str, Any]] = {
    "/qaloop/audit": {"events": ["audit", *_ACTIONS]},
    "/qaloop/feedback": {"events": ["feedback", *_ACTIONS]},
    "/qaloop/complaints": {"events": ["complaints", *_ACTIONS]},
    "/qaloop/workforce": {"events": ["workforce", *_ACTIONS]},
    "/cms/*": {"events": ["casework"]},
}


@dataclass(frozen=True)
class SourceRule:
    """What one source (or family of sources) may publish."""

    pattern: str
    event_types: frozenset[str]
    tenants: frozenset[str] | None  # None: any tenant
    user: str | None  # None: user_id not checked

    def matches(self, source: str) -> bool:
        if self.pattern.endswith("*"):
            prefix = self.pattern[:-1]
            return source.startswith(prefix) and len(source) > len(prefix)
        return source == self.pattern


def _where(pattern: str) -> str:
    return f"QALOOP_BUS_SOURCES[{pattern!r}]"


def _check_entry(pattern: str, spec: Any) -> None:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{_where(pattern)} must be an object")
    unknown = set(spec) - {"events", "tenants", "user"}
    if unknown:
        raise ValueError(f"{_where(pattern)}: unknown keys {sorted(unknown)}")
    if "*" in pattern[:-1]:
        raise ValueError(f"QALOOP_BUS_SOURCES key {pattern!r}: '*' may only end a source prefix")


def _event_types(pattern: str, events: Any) -> frozenset[str]:
    """The event types an entry's `events` names: every type of a strand, or a type."""
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise ValueError(f"{_where(pattern)}.events must be a non-empty list of strands or event types")
    types: set[str] = set()
    for item in events:
        if item in STRANDS:
            types.update(t for t, m in EVENT_MODELS.items() if m.strand == item)
        elif item in EVENT_MODELS:
            types.add(item)
        else:
            raise ValueError(f"{_where(pattern)}.events: {item!r} is neither a strand nor an event type")
    return frozenset(types)


def _tenants(pattern: str, tenants: Any, default_tenants: frozenset[str] | None) -> frozenset[str] | None:
    if tenants is None:
        return default_tenants
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise ValueError(f"{_where(pattern)}.tenants must be a list of tenants or null")
    return frozenset(tenants)


def _user(pattern: str, user: Any) -> str | None:
    if user is not None and (not isinstance(user, str) or not user):
        raise ValueError(f"{_where(pattern)}.user must be an AMQP user name or null")
    return user


def _rule(pattern: str, spec: Mapping[str, Any], default_tenants: frozenset[str] | None) -> SourceRule:
    """One `QALOOP_BUS_SOURCES` entry as a rule; a ValueError naming the entry when it is not one."""
    _check_entry(pattern, spec)
    event_types = _event_types(pattern, spec.get("events"))
    tenants = _tenants(pattern, spec.get("tenants"), default_tenants)
    return SourceRule(pattern=pattern, event_types=event_types, tenants=tenants, user=_user(pattern, spec.get("user")))


class IntakeChecks:
    """The per-message validation hook: raises `PoisonEvent` (`untrusted-source` or
    `raw-identifier`) for a message that must not be applied."""

    def __init__(
        self,
        sources: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        tenants: Iterable[str] = (),
        key_ids: Iterable[str] = ("k1",),
    ) -> None:
        default_tenants = frozenset(tenants) or None
        rules = [
            _rule(pattern, spec, default_tenants)
            for pattern, spec in (DEFAULT_BUS_SOURCES if sources is None else sources).items()
        ]
        exact = [r for r in rules if not r.pattern.endswith("*")]
        prefixes = sorted((r for r in rules if r.pattern.endswith("*")), key=lambda r: -len(r.pattern))
        self.rules: tuple[SourceRule, ...] = (*exact, *prefixes)
        self.key_ids = frozenset(check_key_id(k) for k in key_ids)
        if not self.key_ids:
            raise ValueError("at least one pseudonym key id must be accepted")

    @classmethod
    def from_settings(cls, settings: Any) -> IntakeChecks:
        return cls(
            settings.bus_sources,
            tenants=settings.bus_tenants,
            key_ids=[settings.pseudonym_key_id, *settings.pseudonym_accepted_key_ids],
        )

    def rule_for(self, source: str) -> SourceRule | None:
        return next((r for r in self.rules if r.matches(source)), None)

    def __call__(self, received: Received) -> None:
        self.check_source(received)
        self.check_identifiers(received)

    def check_source(self, received: Received) -> None:
        envelope = received.envelope
        source = envelope.source
        rule = self.rule_for(source)
        if rule is None:
            raise PoisonEvent(UNTRUSTED_SOURCE, f"source {source!r} is not allowed to publish (QALOOP_BUS_SOURCES)")
        if envelope.type not in rule.event_types:
            raise PoisonEvent(
                UNTRUSTED_SOURCE,
                f"source {source!r} is not allowed to publish {envelope.type} (QALOOP_BUS_SOURCES[{rule.pattern!r}])",
            )
        if rule.tenants is not None and envelope.tenant not in rule.tenants:
            raise PoisonEvent(
                UNTRUSTED_SOURCE, f"source {source!r} is not allowed to publish for tenant {envelope.tenant!r}"
            )
        if rule.user is not None and received.user_id != rule.user:
            got = "no user_id" if not received.user_id else f"user_id {received.user_id!r}"
            raise PoisonEvent(
                UNTRUSTED_SOURCE,
                f"source {source!r} must be published by AMQP user {rule.user!r} (the broker-validated "
                f"user_id property); the message has {got}",
            )

    def check_identifiers(self, received: Received) -> None:
        for name in PSEUDONYM_FIELDS:
            value = getattr(received.data, name, None)
            if value is not None:
                self._check_pseudonym(value, f"data.{name}")
        subject = received.envelope.subject
        if subject is not None and subject.startswith(CASE_SUBJECT_PREFIX):
            self._check_pseudonym(subject[len(CASE_SUBJECT_PREFIX) :], "subject")

    def _check_pseudonym(self, value: Any, where: str) -> None:
        # The value itself is never quoted: it may be a raw case number.
        key_id = key_id_of(value) if isinstance(value, str) else None
        if key_id is None:
            raise PoisonEvent(
                RAW_IDENTIFIER,
                f"{where} is not a pseudonym (<key id>:<16 hex digits>, e.g. k1:…): raw identifiers are never stored",
            )
        if key_id not in self.key_ids:
            raise PoisonEvent(
                RAW_IDENTIFIER,
                f"{where} is a pseudonym of key id {key_id!r}, which is not accepted "
                f"(accepted: {', '.join(sorted(self.key_ids))}; QALOOP_PSEUDONYM_ACCEPTED_KEY_IDS)",
            )
