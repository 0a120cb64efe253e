"""Projection codec: facts to and from their stored JSON form, and into a `Facts` set.

Pure (no I/O). The storage layer keeps each fact as `(kind, payload)`; `kind` is the fact
class name, `payload` its fields with dates as ISO text. Decoding is driven by the
dataclass field types, so adding a fact field needs no change here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from datetime import date, datetime
from functools import cache
from typing import Any

from services.reporting import facts as f

# Fact class -> the `Facts` list it belongs to.
FACT_LISTS: dict[type, str] = {
    f.AuditGradedFact: "audits_graded",
    f.AuditModeratedFact: "audits_moderated",
    f.ConcernRaisedFact: "concerns_raised",
    f.ConcernResolvedFact: "concerns_resolved",
    f.FeedbackFact: "feedback",
    f.ComplimentFact: "compliments",
    f.YouSaidWeDidFact: "you_said_we_did",
    f.ComplaintReceivedFact: "complaints_received",
    f.ComplaintExtendedFact: "complaints_extended",
    f.ComplaintEscalatedFact: "complaints_escalated",
    f.ComplaintClosedFact: "complaints_closed",
    f.ActionRaisedFact: "actions_raised",
    f.ActionCompletedFact: "actions_completed",
    f.ReferralFact: "referrals",
    f.AssessmentFact: "assessments",
    f.EhcpFact: "ehcps",
    f.ContactAttemptFact: "contact_attempts",
}
KINDS: dict[str, type] = {cls.__name__: cls for cls in FACT_LISTS}

# Projection names, as shown by /v1/projections/status: one per strand of facts.
PROJECTION_OF_KIND: dict[str, str] = {
    "AuditGradedFact": "audits",
    "AuditModeratedFact": "audits",
    "ConcernRaisedFact": "audits",
    "ConcernResolvedFact": "audits",
    "FeedbackFact": "feedback",
    "ComplimentFact": "feedback",
    "YouSaidWeDidFact": "feedback",
    "ComplaintReceivedFact": "complaints",
    "ComplaintExtendedFact": "complaints",
    "ComplaintEscalatedFact": "complaints",
    "ComplaintClosedFact": "complaints",
    "ActionRaisedFact": "actions",
    "ActionCompletedFact": "actions",
    "ReferralFact": "casework",
    "AssessmentFact": "casework",
    "EhcpFact": "casework",
    "ContactAttemptFact": "casework",
}
PROJECTIONS = ("audits", "feedback", "complaints", "actions", "casework")


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k.name: _encode_value(getattr(value, k.name)) for k in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode_value(v) for v in value]
    return value


def encode(fact: Any) -> tuple[str, dict[str, Any]]:
    return type(fact).__name__, _encode_value(fact)


@cache
def _decoders(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((field.name, _decoder_for(hints[field.name])) for field in dataclasses.fields(cls))


def _decoder_for(hint: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is datetime:
        return datetime.fromisoformat
    if hint is date:
        return date.fromisoformat
    if origin is tuple and args and dataclasses.is_dataclass(args[0]):
        inner: type = typing.cast(type, args[0])
        return lambda items: tuple(_decode_class(inner, item) for item in items)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            decode = _decoder_for(non_none[0])
            return lambda v: None if v is None else decode(v)
    return lambda v: v


def _decode_class(cls: type, payload: dict[str, Any]) -> Any:
    return cls(**{name: decode(payload[name]) for name, decode in _decoders(cls) if name in payload})


def decode(kind: str, payload: dict[str, Any]) -> Any:
    return _decode_class(KINDS[kind], payload)


def add(facts: f.Facts, fact: Any) -> None:
    getattr(facts, FACT_LISTS[type(fact)]).append(fact)


def collect(items: Iterable[Any]) -> f.Facts:
    out = f.Facts()
    for fact in items:
        add(out, fact)
    return out
