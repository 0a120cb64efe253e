"""A seeded stream of contract events for one authority: a realistic mix of every type,
with consistent references (complaints received → acknowledged → closed → escalated,
audits graded → moderated, actions raised → completed, repeat referrals, …).

Used by the benchmark, by tests that need volume, and by the simulator's case-management
feed. The same seed gives the same stream. Events are spread over the financial year.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from shared.calendar import parse_period
from shared.events import (
    ActionCompleted,
    ActionRaised,
    AssessmentCompleted,
    AuditGraded,
    AuditModerated,
    CaseworkerContactAttempted,
    CloudEvent,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintReceived,
    ComplimentReceived,
    ConcernRaised,
    ConcernResolved,
    EhcpIssued,
    FeedbackReceived,
    Grade,
    ReferralReceived,
    YouSaidWeDidPublished,
    new_event,
)
from shared.pseudonym import pseudonymise, subject_for

# The key the stream's case references are pseudonymised with (under the default key id).
STREAM_PSEUDONYM_KEY = "qaloop-contract-stream"

AREAS = ("childrens_social_care", "send", "fostering", "early_help", "youth_justice")
TEAMS = {
    "childrens_social_care": ("through-care", "safeguarding", "assessment"),
    "send": ("send-north", "send-south"),
    "fostering": ("fostering",),
    "early_help": ("early-help",),
    "youth_justice": ("youth-justice",),
}
CATEGORIES = ("communication", "delay", "quality_of_service", "staff_conduct", "decision")
QUESTIONS = ("easy_to_contact_case_worker", "listened_to", "feel_safe_where_i_live", "helped_me")


def contract_stream(n: int, *, seed: int = 1, year: str = "2022-23", tenant: str = "E10000034") -> list[CloudEvent]:
    """About `n` events (exactly n), in time order."""
    rng = random.Random(seed)
    fy = parse_period(year)
    span = (fy.end - fy.start).days
    out: list[CloudEvent] = []
    serial = 0

    def at(day: date, hour: int | None = None) -> datetime:
        return datetime(
            day.year,
            day.month,
            day.day,
            hour if hour is not None else rng.randint(8, 17),
            rng.randint(0, 59),
            tzinfo=UTC,
        )

    def some_day() -> date:
        return fy.start + timedelta(days=rng.randint(0, span))

    def emit(data, source: str, seq: int = 1, subject: str | None = None) -> None:
        nonlocal serial
        serial += 1
        out.append(
            new_event(
                data, source=source, tenant=tenant, sequence=seq, subject=subject, event_id=f"sim-{seed}-{serial}"
            )
        )

    # Case references leave their systems pseudonymised (`k1:<hex>`), as reporting requires.
    children = [pseudonymise(f"child-{seed}-{i}", STREAM_PSEUDONYM_KEY) for i in range(max(50, n // 6))]
    while len(out) < n:
        area = rng.choice(AREAS)
        team = rng.choice(TEAMS[area])
        kind = rng.random()
        day = some_day()
        if kind < 0.30:  # casework: referral, assessment, contact attempt
            child = rng.choice(children)
            rid = f"ref-{seed}-{serial}"
            emit(
                ReferralReceived(referral_id=rid, child_ref=child, received_at=at(day), team=team, service_area=area),
                "/cms/mosaic",
            )
            start = day + timedelta(days=rng.randint(0, 5))
            emit(
                AssessmentCompleted(
                    assessment_id=f"as-{rid}",
                    child_ref=child,
                    referral_id=rid,
                    started_at=at(start),
                    completed_at=at(start + timedelta(days=rng.randint(10, 80))),
                    team=team,
                    service_area=area,
                ),
                "/cms/mosaic",
            )
            emit(
                CaseworkerContactAttempted(
                    attempt_id=f"ca-{rid}",
                    child_ref=child,
                    team=team,
                    service_area=area,
                    attempted_at=at(day),
                    reached=rng.random() < 0.7,
                ),
                "/cms/mosaic",
            )
        elif kind < 0.36:  # EHC plan
            requested = day
            emit(
                EhcpIssued(
                    plan_id=f"plan-{seed}-{serial}",
                    child_ref=rng.choice(children),
                    requested_at=at(requested),
                    issued_at=at(requested + timedelta(days=rng.randint(100, 180))),
                    exception=rng.random() < 0.1,
                    team=rng.choice(TEAMS["send"]),
                    service_area="send",
                ),
                "/cms/synergy",
            )
        elif kind < 0.52:  # audit, sometimes moderated, sometimes with an action
            aid = f"aud-{seed}-{serial}"
            grades = [rng.choices(list(Grade), weights=(1, 5, 3, 1))[0] for _ in range(4)]
            overall = max(grades, key=lambda g: g.rank)
            case = pseudonymise(f"case-{rng.randint(1, max(20, n // 40))}", STREAM_PSEUDONYM_KEY)
            emit(
                AuditGraded(
                    audit_id=aid,
                    case_ref=case,
                    service_area=area,
                    team=team,
                    audit_type="routine",
                    completed_at=at(day),
                    overall_grade=overall,
                    auditor_id="qa-1",
                    area_grades=[
                        {"area": a, "grade": g}
                        for a, g in zip(("voice_of_child", "assessment", "planning", "oversight"), grades, strict=True)
                    ],
                ),
                "/qaloop/audit",
                1,
                subject_for(case),
            )
            if rng.random() < 0.15:
                after = rng.choice(list(Grade))
                emit(
                    AuditModerated(
                        audit_id=aid,
                        overall_grade_before=overall,
                        overall_grade_after=after,
                        moderator_id="qa-2",
                        moderated_at=at(day + timedelta(days=7)),
                    ),
                    "/qaloop/audit",
                    2,
                )
            if overall.rank >= 2:
                _action(emit, rng, "audit", aid, team, area, day, at)
        elif kind < 0.72:  # feedback
            answers = []
            for q in QUESTIONS:
                if rng.random() < 0.85:
                    value: int | str = rng.choice(("yes", "no", "yes")) if q != "helped_me" else rng.randint(1, 5)
                    answers.append({"question_id": q, "value": value, "safeguarding": q == "feel_safe_where_i_live"})
            emit(
                FeedbackReceived(
                    response_id=f"resp-{seed}-{serial}",
                    survey_id=f"{area}-survey-v1",
                    service_area=area,
                    team=team,
                    respondent=rng.choice(("child", "young_person", "parent_carer")),
                    received_at=at(day),
                    answers=answers,
                ),
                "/qaloop/feedback",
            )
        elif kind < 0.78:  # compliments, and you said we did
            emit(
                ComplimentReceived(
                    compliment_id=f"comp-{seed}-{serial}",
                    service_area=area,
                    team=team,
                    origin=rng.choice(("external", "external", "internal")),
                    received_at=at(day),
                ),
                "/qaloop/feedback",
            )
            if rng.random() < 0.2:
                emit(
                    YouSaidWeDidPublished(
                        item_id=f"ysw-{seed}-{serial}",
                        service_area=area,
                        theme=rng.choice(QUESTIONS),
                        you_said="…",
                        we_did="…",
                        feedback_ids=[],
                        published_at=at(day),
                    ),
                    "/qaloop/feedback",
                )
        elif kind < 0.95:  # complaint through its stages
            _complaint(emit, rng, f"cmp-{seed}-{serial}", area, team, day, at)
        else:  # concern
            cid = f"con-{seed}-{serial}"
            emit(
                ConcernRaised(
                    concern_id=cid,
                    service_area=area,
                    theme="management_oversight",
                    description="…",
                    measures=["new template"],
                    raised_at=at(day),
                    review_by=day + timedelta(days=90),
                ),
                "/qaloop/audit",
            )
            if rng.random() < 0.6:
                emit(
                    ConcernResolved(
                        concern_id=cid,
                        resolved_at=at(day + timedelta(days=rng.randint(30, 120))),
                        evidence_audit_ids=[],
                    ),
                    "/qaloop/audit",
                    2,
                )
    out = out[:n]
    out.sort(key=lambda e: (e.time, e.id))
    return out


def _action(emit, rng, origin, origin_id, team, area, day, at) -> None:
    action_id = f"act-{origin_id}"
    due = day + timedelta(days=rng.randint(10, 40))
    strand = {"complaint": "complaints", "audit": "audit", "feedback": "feedback", "concern": "audit"}[origin]
    emit(
        ActionRaised(
            action_id=action_id,
            origin=origin,
            origin_id=origin_id,
            team=team,
            service_area=area,
            owner_id="manager-1",
            raised_at=at(day),
            due_date=due,
            summary="…",
        ),
        f"/qaloop/{strand}",
    )
    if rng.random() < 0.75:
        emit(
            ActionCompleted(action_id=action_id, completed_at=at(due + timedelta(days=rng.randint(-8, 6)))),
            f"/qaloop/{strand}",
            2,
        )


def _complaint(emit, rng, cid, area, team, day, at) -> None:
    from shared.calendar import default_calendar

    cal = default_calendar()
    source = "/qaloop/complaints"
    emit(
        ComplaintReceived(
            complaint_id=cid,
            procedure="statutory_children" if area != "send" else "send",
            category=rng.choice(CATEGORIES),
            team=team,
            service_area=area,
            received_at=at(day),
            complainant=rng.choice(("child", "parent_carer", "advocate")),
        ),
        source,
        1,
    )
    emit(ComplaintAcknowledged(complaint_id=cid, acknowledged_at=at(day + timedelta(days=1))), source, 2)
    due = cal.add_working_days(day, 10)
    seq = 3
    if rng.random() < 0.15:
        due = cal.add_working_days(day, 20)
        emit(ComplaintExtended(complaint_id=cid, stage=1, new_due_date=due, reason="complex"), source, seq)
        seq += 1
    closed = cal.add_working_days(day, rng.randint(5, 22))
    points = [{"upheld": rng.random() < 0.35} for _ in range(rng.randint(1, 3))]
    upheld = sum(p["upheld"] for p in points)
    outcome = (
        "withdrawn"
        if rng.random() < 0.05
        else ("upheld" if upheld == len(points) else "not_upheld" if upheld == 0 else "partially_upheld")
    )
    emit(
        ComplaintClosed(
            complaint_id=cid,
            stage=1,
            closed_at=at(closed),
            outcome=outcome,
            points=points,
            due_date=due,
            within_timescale=closed <= due,
            working_days_taken=cal.working_days_between(day, closed),
        ),
        source,
        seq,
    )
    seq += 1
    if outcome in ("upheld", "partially_upheld"):
        _action(emit, rng, "complaint", cid, team, area, closed, at)
    if outcome != "withdrawn" and rng.random() < 0.12:
        escalated = closed + timedelta(days=rng.randint(1, 10))
        emit(ComplaintEscalated(complaint_id=cid, from_stage=1, to_stage=2, escalated_at=at(escalated)), source, seq)
        start = escalated
        closed2 = cal.add_working_days(start, rng.randint(15, 40))
        due2 = cal.add_working_days(start, 25)
        emit(
            ComplaintClosed(
                complaint_id=cid,
                stage=2,
                closed_at=at(closed2),
                outcome="not_upheld",
                points=[{"upheld": False}],
                due_date=due2,
                within_timescale=closed2 <= due2,
                working_days_taken=cal.working_days_between(start, closed2),
            ),
            source,
            seq + 1,
        )
