"""One valid `data` payload per event type (CONTRACT.md §1), for any test that needs events.

`sample_data(event_type)` returns a fresh dict (mutate it freely); `sample_event(event_type)`
wraps it in a CloudEvents envelope with the producing strand's source.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from shared.events import CloudEvent, EventData, model_for, new_event
from shared.pseudonym import pseudonymise, subject_for

TENANT = "E10000034"
CASE_REF = "k1:9f86d081884c7d65"  # a pseudonym (shared.pseudonym): `<key id>:<16 hex>`
WORKER_REF = "k1:2c26b46b68ffc68f"  # a worker id, pseudonymised the same way
TEST_PSEUDONYM_KEY = "qaloop-tests-pseudonym-key"
EVENT_TIME = datetime(2022, 8, 15, 10, 40, tzinfo=UTC)

_SAMPLES: dict[str, dict[str, Any]] = {
    # audit
    "AuditScheduled": {
        "audit_id": "aud-1",
        "case_ref": CASE_REF,
        "service_area": "childrens_social_care",
        "team": "safeguarding",
        "audit_type": "themed",
        "theme": "neglect",
        "concern_id": "con-1",
        "auditor_id": "auditor-7",
        "due_date": "2022-09-30",
    },
    "AuditGraded": {
        "audit_id": "aud-1",
        "case_ref": CASE_REF,
        "service_area": "childrens_social_care",
        "team": "safeguarding",
        "audit_type": "routine",
        "completed_at": "2022-08-15T10:40:00Z",
        "area_grades": [
            {"area": "planning", "grade": "good"},
            {"area": "voice_of_child", "grade": "requires_improvement"},
        ],
        "overall_grade": "requires_improvement",
        "auditor_id": "auditor-7",
    },
    "AuditModerated": {
        "audit_id": "aud-1",
        "overall_grade_before": "requires_improvement",
        "overall_grade_after": "good",
        "moderator_id": "moderator-2",
        "moderated_at": "2022-08-20T09:00:00+01:00",
        "reason": "evidence of impact on file",
    },
    "ConcernRaised": {
        "concern_id": "con-1",
        "service_area": "send",
        "theme": "ehcp_timeliness",
        "description": "EHC plans late in the summer term",
        "measures": ["send.ehcp_within_20_weeks_rate"],
        "raised_at": "2022-07-01T12:00:00Z",
        "review_by": "2022-12-31",
    },
    "ConcernResolved": {
        "concern_id": "con-1",
        "resolved_at": "2023-01-10T12:00:00Z",
        "evidence_audit_ids": ["aud-2", "aud-3"],
        "outcome": "partly_effective",
        "reason": "plans issued on time in one team of two",
    },
    "InspectionFindingRecorded": {
        "finding_id": "find-1",
        "body": "ofsted",
        "service_area": "childrens_social_care",
        "team": "front-door",
        "summary": "Management oversight of strategy discussions is not consistent",
        "recorded_at": "2022-11-18T16:00:00Z",
    },
    # feedback
    "FeedbackReceived": {
        "response_id": "resp-1",
        "survey_id": "cla-2022",
        "service_area": "fostering",
        "team": "through-care",
        "respondent": "young_person",
        "received_at": "2022-08-01T15:00:00Z",
        "channel": "online",
        "answers": [
            {"question_id": "q_listened", "value": 4},
            {"question_id": "q_feel_safe", "value": "yes", "safeguarding": True},
        ],
    },
    "ComplimentReceived": {
        "compliment_id": "comp-1",
        "service_area": "early_help",
        "team": "family-support",
        "origin": "external",
        "received_at": "2022-08-02T09:30:00Z",
        "summary": "thank-you card",
    },
    "YouSaidWeDidPublished": {
        "item_id": "ysw-1",
        "service_area": "childrens_social_care",
        "theme": "contact",
        "you_said": "We did not know who our social worker was",
        "we_did": "Every child now gets a photo card of their worker",
        "feedback_ids": ["resp-1", "resp-2"],
        "action_id": "act-1",
        "published_at": "2022-10-01T10:00:00Z",
    },
    # complaints
    "ComplaintReceived": {
        "complaint_id": "cmp-1",
        "procedure": "statutory_children",
        "stage": 1,
        "category": "communication",
        "team": "safeguarding",
        "service_area": "childrens_social_care",
        "received_at": "2022-08-03T11:00:00Z",
        "complainant": "parent_carer",
    },
    "ComplaintAcknowledged": {"complaint_id": "cmp-1", "acknowledged_at": "2022-08-04T10:00:00Z"},
    "ComplaintExtended": {
        "complaint_id": "cmp-1",
        "stage": 1,
        "new_due_date": "2022-09-14",
        "reason": "complex complaint",
    },
    "ComplaintEscalated": {
        "complaint_id": "cmp-1",
        "from_stage": 1,
        "to_stage": 2,
        "escalated_at": "2022-09-20T14:00:00Z",
        "late_request": True,
    },
    "ComplaintStatementAgreed": {"complaint_id": "cmp-1", "agreed_at": "2022-09-27T10:00:00Z"},
    "ComplaintPanelHeld": {"complaint_id": "cmp-1", "held_at": "2022-11-21T10:00:00Z"},
    "ComplaintReferredToOmbudsman": {"complaint_id": "cmp-1", "referred_at": "2023-01-16T10:00:00Z"},
    "OmbudsmanDecided": {"complaint_id": "cmp-1", "decided_at": "2023-04-20T10:00:00Z", "finding": "no_fault"},
    "ComplaintClosed": {
        "complaint_id": "cmp-1",
        "stage": 1,
        "closed_at": "2022-08-12T16:00:00Z",
        "outcome": "partially_upheld",
        "points": [{"summary": "late visit", "upheld": True}, {"upheld": False}],
        "due_date": "2022-08-17",
        "within_timescale": True,
        "working_days_taken": 7,
    },
    "LearningIdentified": {
        "learning_id": "learn-1",
        "origin": "complaint",
        "origin_id": "cmp-1",
        "team": "safeguarding",
        "service_area": "childrens_social_care",
        "summary": "Confirm visit times in writing",
    },
    # actions
    "ActionRaised": {
        "action_id": "act-1",
        "origin": "complaint",
        "origin_id": "cmp-1",
        "team": "safeguarding",
        "service_area": "childrens_social_care",
        "owner_id": "manager-3",
        "raised_at": "2022-08-12T16:30:00Z",
        "due_date": "2022-09-30",
        "summary": "Write visit times into the case plan template",
    },
    "ActionCompleted": {
        "action_id": "act-1",
        "completed_at": "2022-09-15T12:00:00Z",
        "evidence": "template v3 published",
    },
    # casework
    "ReferralReceived": {
        "referral_id": "ref-1",
        "child_ref": CASE_REF,
        "received_at": "2022-08-01T08:15:00Z",
        "team": "front-door",
        "service_area": "childrens_social_care",
    },
    "AssessmentCompleted": {
        "assessment_id": "asm-1",
        "child_ref": CASE_REF,
        "referral_id": "ref-1",
        "started_at": "2022-08-02T09:00:00Z",
        "completed_at": "2022-09-01T17:00:00Z",
        "team": "assessment",
        "service_area": "childrens_social_care",
    },
    "EhcpIssued": {
        "plan_id": "ehcp-1",
        "child_ref": CASE_REF,
        "requested_at": "2022-03-01T09:00:00Z",
        "issued_at": "2022-07-12T09:00:00Z",
        "exception": False,
        "team": "send-casework",
        "service_area": "send",
    },
    "CaseworkerContactAttempted": {
        "attempt_id": "att-1",
        "child_ref": CASE_REF,
        "team": "through-care",
        "service_area": "fostering",
        "attempted_at": "2022-08-05T13:00:00Z",
        "reached": True,
    },
    # reporting
    "FollowUpOpened": {
        "followup_id": "fu-1",
        "rule": "upheld_complaint_needs_action",
        "origin": "complaint",
        "origin_id": "cmp-1",
        "team": "safeguarding",
        "service_area": "childrens_social_care",
        "due_date": "2022-09-12",
    },
    "FollowUpDue": {"followup_id": "fu-1", "due_date": "2022-09-12"},
    "FollowUpOverdue": {"followup_id": "fu-1", "due_date": "2022-09-12", "days_overdue": 3},
    "FollowUpClosed": {
        "followup_id": "fu-1",
        "closed_at": "2022-09-10T10:00:00Z",
        "closed_by_event_id": "5b0f3c1e-0c7a-4d53-9d0e-0f6a4e1c2b11",
        "on_time": True,
    },
    "StaffJoined": {
        "worker_id": WORKER_REF,
        "team": "through-care",
        "service_area": "childrens_social_care",
        "role": "social_worker",
        "contract": "agency",
        "fte": 0.8,
        "case_holding": True,
        "joined_at": "2022-04-04T09:00:00+01:00",
    },
    "StaffLeft": {"worker_id": WORKER_REF, "left_at": "2022-09-30T17:00:00+01:00", "reason": "workload"},
    "VacancyRecorded": {
        "team": "through-care",
        "service_area": "childrens_social_care",
        "vacant_fte": 1.5,
        "as_of": "2022-09-30",
    },
    "CaseloadRecorded": {"worker_id": WORKER_REF, "cases": 18, "as_of": "2022-09-30"},
    "StaffSurveyResponseReceived": {
        "response_id": "hc-2022-17",
        "survey_id": "health-check",
        "team": "through-care",
        "service_area": "childrens_social_care",
        "received_at": "2022-11-02T10:00:00Z",
        "answers": [
            {"question_id": "manageable_caseload", "value": 4},
            {"question_id": "good_supervision", "value": "no"},
        ],
    },
}

# The strand a sample event is published under; ActionRaised/ActionCompleted can be any of
# audit, feedback or complaints — the samples use complaints.
_SAMPLE_STRAND = {"ActionRaised": "complaints", "ActionCompleted": "complaints"}


def sample_types() -> list[str]:
    return list(_SAMPLES)


def sample_data(event_type: str) -> dict[str, Any]:
    """A valid `data` dict for `event_type` (a fresh copy)."""
    try:
        return copy.deepcopy(_SAMPLES[event_type])
    except KeyError:
        raise KeyError(f"no sample for event type {event_type!r}: add one to {__name__}") from None


def pseudonym(raw: str) -> str:
    """A case reference as producers send it: pseudonymised (`k1:<hex>`) with a test key."""
    return pseudonymise(raw, TEST_PSEUDONYM_KEY)


def sample_model(event_type: str) -> EventData:
    return model_for(event_type).model_validate(sample_data(event_type))


def sample_source(event_type: str) -> str:
    strand = _SAMPLE_STRAND.get(event_type) or model_for(event_type).strand
    return "/cms/liquidlogic" if strand == "casework" else f"/qaloop/{strand}"


def sample_event(event_type: str, *, event_id: str | None = None, sequence: int = 1) -> CloudEvent:
    """`sample_data(event_type)` in a CloudEvents envelope, as its producer would publish it."""
    return new_event(
        sample_model(event_type),
        source=sample_source(event_type),
        tenant=TENANT,
        subject=subject_for(CASE_REF),
        sequence=sequence,
        time=EVENT_TIME,
        event_id=event_id,
    )
