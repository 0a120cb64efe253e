"""Bus trust rules (shared.trust) and the pseudonym format (shared.pseudonym), without servers."""

from __future__ import annotations

import pytest

from shared.events import PoisonEvent, parse_event
from shared.inbox import Received
from shared.pseudonym import is_pseudonym, key_id_of, pseudonymise, subject_for
from shared.settings import Settings
from shared.trust import IntakeChecks
from tests.support.samples import pseudonym, sample_event


def received(event_type: str, *, source: str | None = None, user_id: str | None = None, **data) -> Received:
    event = sample_event(event_type)
    body = event.model_dump(mode="json", exclude_none=True)
    if source is not None:
        body["source"] = source
    body["data"].update(data)
    envelope, parsed = parse_event(body)
    return Received(envelope, parsed, b"", "", user_id)


def kind(check: IntakeChecks, r: Received) -> str | None:
    try:
        check(r)
    except PoisonEvent as exc:
        return exc.kind
    return None


def test_pseudonyms_name_their_key_and_are_stable():
    p = pseudonymise(" mos/1 ", "key")
    assert p == pseudonymise("MOS/1", "key") and p.startswith("k1:") and len(p) == 19
    assert key_id_of(pseudonymise("MOS/1", "key", "k2")) == "k2"
    assert is_pseudonym(p) and is_pseudonym(p, {"k1"}) and not is_pseudonym(p, {"k2"})
    for raw in ("MOS/1", "9f86d081884c7d65", "K1:9F86D081884C7D65", "k1:9f86d081884c7d6"):
        assert not is_pseudonym(raw)
    assert subject_for(p) == f"case:{p}"
    with pytest.raises(ValueError):
        pseudonymise("MOS/1", "key", "K 1")


def test_defaults_allow_each_strand_its_own_events_and_actions_and_cms_the_casework():
    check = IntakeChecks()
    assert kind(check, received("AuditGraded")) is None
    assert kind(check, received("ActionRaised", source="/qaloop/complaints")) is None
    assert kind(check, received("ReferralReceived", source="/cms/anything")) is None
    assert kind(check, received("AuditGraded", source="/qaloop/feedback")) == "untrusted-source"
    assert kind(check, received("AuditGraded", source="/cms/mosaic")) == "untrusted-source"
    assert kind(check, received("ReferralReceived", source="/cms/")) == "untrusted-source"
    assert kind(check, received("FollowUpOpened", source="/qaloop/reporting")) == "untrusted-source"
    assert kind(check, received("AuditGraded", source="/somewhere/else")) == "untrusted-source"


def test_exact_sources_win_over_prefixes_and_tenants_and_users_are_checked():
    check = IntakeChecks(
        {
            "/cms/*": {"events": ["casework"], "tenants": ["E10000034"]},
            "/cms/mosaic": {"events": ["ReferralReceived"], "user": "mosaic"},
        },
        tenants=["E1"],
    )
    assert kind(check, received("AssessmentCompleted", source="/cms/mosaic", user_id="mosaic")) == "untrusted-source"
    # /cms/mosaic's own entry names no tenants: QALOOP_BUS_TENANTS (E1 here) applies
    assert kind(check, received("ReferralReceived", source="/cms/mosaic", user_id="mosaic")) == "untrusted-source"
    check = IntakeChecks({"/cms/mosaic": {"events": ["ReferralReceived"], "user": "mosaic"}})
    assert kind(check, received("ReferralReceived", source="/cms/mosaic", user_id="mosaic")) is None
    assert kind(check, received("ReferralReceived", source="/cms/mosaic", user_id="guest")) == "untrusted-source"
    assert kind(check, received("ReferralReceived", source="/cms/mosaic")) == "untrusted-source"


def test_raw_identifiers_and_unaccepted_key_ids():
    check = IntakeChecks(key_ids=["k2", "k1"])
    assert kind(check, received("AuditGraded", case_ref="MOS/1")) == "raw-identifier"
    assert kind(check, received("ReferralReceived", source="/cms/x", child_ref="LL1-000001")) == "raw-identifier"
    assert kind(check, received("AuditGraded", case_ref=pseudonymise("MOS/1", "k", "k2"))) is None
    assert kind(check, received("AuditGraded", case_ref=pseudonymise("MOS/1", "k", "k3"))) == "raw-identifier"
    r = received("AuditGraded", case_ref=pseudonym("x"))
    assert kind(check, r) is None
    bad_subject = Received(r.envelope.model_copy(update={"subject": "case:MOS/1"}), r.data, b"", "")
    assert kind(check, bad_subject) == "raw-identifier"
    other_subject = Received(r.envelope.model_copy(update={"subject": "complaint:c1"}), r.data, b"", "")
    assert kind(check, other_subject) is None


@pytest.mark.parametrize(
    "sources",
    [
        {"/x": {"events": ["nonsense"]}},
        {"/x": {"events": []}},
        {"/x": {"events": ["audit"], "tenants": "E1"}},
        {"/x": {"events": ["audit"], "colour": "red"}},
        {"/x*/y": {"events": ["audit"]}},
    ],
)
def test_bad_configuration_is_refused_at_start(sources):
    with pytest.raises(ValueError):
        IntakeChecks(sources)


def test_from_settings(monkeypatch):
    monkeypatch.setenv("QALOOP_BUS_SOURCES", '{"/cms/*": {"events": ["casework"], "user": "cms"}}')
    monkeypatch.setenv("QALOOP_PSEUDONYM_KEY_ID", "k2")
    monkeypatch.setenv("QALOOP_PSEUDONYM_ACCEPTED_KEY_IDS", '["k1"]')
    check = IntakeChecks.from_settings(Settings())
    assert check.key_ids == {"k1", "k2"} and [r.pattern for r in check.rules] == ["/cms/*"]
    monkeypatch.setenv("QALOOP_PSEUDONYM_KEY_ID", "Key One")
    with pytest.raises(ValueError):
        Settings()
