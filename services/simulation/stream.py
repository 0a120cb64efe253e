"""A seeded stream of contract events for one authority: a realistic mix of every type,
with consistent references (complaints received → acknowledged → closed → escalated,
audits graded → moderated, actions raised → completed, repeat referrals, …).

Used by the benchmark, by tests that need volume, and by the simulator's case-management
feed. The same seed gives the same stream. Events are spread over the financial year.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from shared.calendar import Period, default_calendar, parse_period
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
    ComplaintPanelHeld,
    ComplaintReceived,
    ComplaintReferredToOmbudsman,
    ComplaintStatementAgreed,
    ComplimentReceived,
    ConcernRaised,
    ConcernResolved,
    EhcpIssued,
    EventData,
    FeedbackReceived,
    Grade,
    OmbudsmanDecided,
    OmbudsmanFinding,
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
# Their wording, as the feedback service sends it with each answer (issue 14); "listened_to"
# goes without, as a question whose wording reporting never learned (answers sent before the
# wording travelled, or by another sender).
WORDING = {
    "easy_to_contact_case_worker": "It was easy to contact my case worker",
    "feel_safe_where_i_live": "I feel safe where I live",
    "helped_me": "The support helped me",
}


def contract_stream(n: int, *, seed: int = 1, year: str = "2022-23", tenant: str = "E10000034") -> list[CloudEvent]:
    """About `n` events (exactly n), in time order."""
    stream = _Stream(n, seed, parse_period(year), tenant)
    while len(stream.out) < n:
        stream.story()
    out = stream.out[:n]
    out.sort(key=lambda e: (e.time, e.id))
    return out


class _Stream:
    """The stream being drawn: one random source for everything, the events so far (each
    numbered: ``serial``), and the pseudonymised children the casework is about. Each
    `story` adds what one thing in one service area and team causes."""

    def __init__(self, n: int, seed: int, fy: Period, tenant: str) -> None:
        self.n, self.seed, self.fy, self.tenant = n, seed, fy, tenant
        self.rng = random.Random(seed)
        # The 2026-12 complaint steps (statements, late requests, panels, the Ombudsman) draw
        # on a stream of their own, so that everything else a seed gives is as before.
        self.reviews = random.Random(f"complaint-reviews:{seed}")
        self.calendar = default_calendar()
        self.out: list[CloudEvent] = []
        self.serial = 0
        # Case references leave their systems pseudonymised (`k1:<hex>`), as reporting requires.
        self.children = [pseudonymise(f"child-{seed}-{i}", STREAM_PSEUDONYM_KEY) for i in range(max(50, n // 6))]

    def at(self, day: date, hour: int | None = None) -> datetime:
        rng = self.rng
        return datetime(
            day.year,
            day.month,
            day.day,
            hour if hour is not None else rng.randint(8, 17),
            rng.randint(0, 59),
            tzinfo=UTC,
        )

    def some_day(self) -> date:
        return self.fy.start + timedelta(days=self.rng.randint(0, (self.fy.end - self.fy.start).days))

    def emit(self, data: EventData, source: str, seq: int = 1, subject: str | None = None) -> None:
        self.serial += 1
        self.out.append(
            new_event(
                data,
                source=source,
                tenant=self.tenant,
                sequence=seq,
                subject=subject,
                event_id=f"sim-{self.seed}-{self.serial}",
            )
        )

    def story(self) -> None:
        """One story, of a kind drawn by share: casework 30%, EHC plans 6%, audits 16%,
        feedback 20%, compliments 6%, complaints 17%, concerns 5%."""
        rng = self.rng
        area = rng.choice(AREAS)
        team = rng.choice(TEAMS[area])
        kind = rng.random()
        day = self.some_day()
        if kind < 0.30:
            self.casework(area, team, day)
        elif kind < 0.36:
            self.ehc_plan(day)
        elif kind < 0.52:
            self.audit(area, team, day)
        elif kind < 0.72:
            self.feedback(area, team, day)
        elif kind < 0.78:
            self.compliment(area, team, day)
        elif kind < 0.95:
            self.complaint(f"cmp-{self.seed}-{self.serial}", area, team, day)
        else:
            self.concern(area, day)

    def casework(self, area: str, team: str, day: date) -> None:
        """A referral, its assessment and a contact attempt."""
        rng, at = self.rng, self.at
        child = rng.choice(self.children)
        rid = f"ref-{self.seed}-{self.serial}"
        self.emit(
            ReferralReceived(referral_id=rid, child_ref=child, received_at=at(day), team=team, service_area=area),
            "/cms/mosaic",
        )
        start = day + timedelta(days=rng.randint(0, 5))
        self.emit(
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
        self.emit(
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

    def ehc_plan(self, requested: date) -> None:
        rng, at = self.rng, self.at
        self.emit(
            EhcpIssued(
                plan_id=f"plan-{self.seed}-{self.serial}",
                child_ref=rng.choice(self.children),
                requested_at=at(requested),
                issued_at=at(requested + timedelta(days=rng.randint(100, 180))),
                exception=rng.random() < 0.1,
                team=rng.choice(TEAMS["send"]),
                service_area="send",
            ),
            "/cms/synergy",
        )

    def audit(self, area: str, team: str, day: date) -> None:
        """An audit, sometimes moderated, with an action when it is weak."""
        rng, at = self.rng, self.at
        aid = f"aud-{self.seed}-{self.serial}"
        grades = [rng.choices(list(Grade), weights=(1, 5, 3, 1))[0] for _ in range(4)]
        overall = max(grades, key=lambda g: g.rank)
        case = pseudonymise(f"case-{rng.randint(1, max(20, self.n // 40))}", STREAM_PSEUDONYM_KEY)
        self.emit(
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
            self.emit(
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
            self.action("audit", aid, team, area, day)

    def feedback(self, area: str, team: str, day: date) -> None:
        rng = self.rng
        answers = []
        for q in QUESTIONS:
            if rng.random() < 0.85:
                value: int | str = rng.choice(("yes", "no", "yes")) if q != "helped_me" else rng.randint(1, 5)
                answer = {"question_id": q, "value": value, "safeguarding": q == "feel_safe_where_i_live"}
                answers.append({**answer, "wording": WORDING[q]} if q in WORDING else answer)
        self.emit(
            FeedbackReceived(
                response_id=f"resp-{self.seed}-{self.serial}",
                survey_id=f"{area}-survey-v1",
                service_area=area,
                team=team,
                respondent=rng.choice(("child", "young_person", "parent_carer")),
                received_at=self.at(day),
                answers=answers,
            ),
            "/qaloop/feedback",
        )

    def compliment(self, area: str, team: str, day: date) -> None:
        """A compliment, and sometimes a "you said, we did" item."""
        rng = self.rng
        self.emit(
            ComplimentReceived(
                compliment_id=f"comp-{self.seed}-{self.serial}",
                service_area=area,
                team=team,
                origin=rng.choice(("external", "external", "internal")),
                received_at=self.at(day),
            ),
            "/qaloop/feedback",
        )
        if rng.random() < 0.2:
            self.emit(
                YouSaidWeDidPublished(
                    item_id=f"ysw-{self.seed}-{self.serial}",
                    service_area=area,
                    theme=rng.choice(QUESTIONS),
                    you_said="…",
                    we_did="…",
                    feedback_ids=[],
                    published_at=self.at(day),
                ),
                "/qaloop/feedback",
            )

    def concern(self, area: str, day: date) -> None:
        """An area of concern, resolved more often than not."""
        rng, at = self.rng, self.at
        cid = f"con-{self.seed}-{self.serial}"
        self.emit(
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
            self.emit(
                ConcernResolved(
                    concern_id=cid,
                    resolved_at=at(day + timedelta(days=rng.randint(30, 120))),
                    evidence_audit_ids=[],
                ),
                "/qaloop/audit",
                2,
            )

    def action(self, origin: str, origin_id: str, team: str, area: str, day: date) -> None:
        """An action raised on ``day``, mostly completed (some late)."""
        rng, at = self.rng, self.at
        action_id = f"act-{origin_id}"
        due = day + timedelta(days=rng.randint(10, 40))
        strand = {"complaint": "complaints", "audit": "audit", "feedback": "feedback", "concern": "audit"}[origin]
        self.emit(
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
            self.emit(
                ActionCompleted(action_id=action_id, completed_at=at(due + timedelta(days=rng.randint(-8, 6)))),
                f"/qaloop/{strand}",
                2,
            )

    def complaint(self, cid: str, area: str, team: str, day: date) -> None:
        """A complaint through stage 1 (sometimes extended); an action when upheld in full or
        in part; sometimes escalated to stage 2."""
        rng, at, cal = self.rng, self.at, self.calendar
        self.emit(
            ComplaintReceived(
                complaint_id=cid,
                procedure="statutory_children" if area != "send" else "send",
                category=rng.choice(CATEGORIES),
                team=team,
                service_area=area,
                received_at=at(day),
                complainant=rng.choice(("child", "parent_carer", "advocate")),
            ),
            _COMPLAINTS,
            1,
        )
        self.emit(ComplaintAcknowledged(complaint_id=cid, acknowledged_at=at(day + timedelta(days=1))), _COMPLAINTS, 2)
        due = cal.add_working_days(day, 10)
        seq = 3
        if rng.random() < 0.15:
            due = cal.add_working_days(day, 20)
            self.emit(
                ComplaintExtended(complaint_id=cid, stage=1, new_due_date=due, reason="complex"), _COMPLAINTS, seq
            )
            seq += 1
        closed = cal.add_working_days(day, rng.randint(5, 22))
        points = [{"upheld": rng.random() < 0.35} for _ in range(rng.randint(1, 3))]
        outcome = "withdrawn" if rng.random() < 0.05 else _outcome(points)
        self.emit(
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
            _COMPLAINTS,
            seq,
        )
        if outcome in ("upheld", "partially_upheld"):
            self.action("complaint", cid, team, area, closed)
        if outcome != "withdrawn" and rng.random() < 0.12:
            self.stage_2(cid, closed, seq + 1)

    def stage_2(self, cid: str, closed: date, seq: int) -> None:
        """The complaint escalated after its stage-1 response (now and then after the
        20-working-day window: flagged late), its statement of complaint agreed, answered at
        stage 2 (not upheld); sometimes on to a stage-3 panel, sometimes to the Ombudsman."""
        rng, at, cal, reviews = self.rng, self.at, self.calendar, self.reviews
        escalated = closed + timedelta(days=rng.randint(1, 10))
        if reviews.random() < 0.15:
            escalated = closed + timedelta(days=reviews.randint(29, 45))
        late = escalated > cal.add_working_days(closed, 20)
        self.emit(
            ComplaintEscalated(
                complaint_id=cid, from_stage=1, to_stage=2, escalated_at=at(escalated), late_request=late
            ),
            _COMPLAINTS,
            seq,
        )
        agreed = cal.add_working_days(escalated, reviews.randint(1, 5))
        self.emit(ComplaintStatementAgreed(complaint_id=cid, agreed_at=self.review_at(agreed)), _COMPLAINTS, seq + 1)
        closed2 = cal.add_working_days(escalated, rng.randint(15, 40))
        due2 = cal.add_working_days(escalated, 25)
        self.emit(
            ComplaintClosed(
                complaint_id=cid,
                stage=2,
                closed_at=at(closed2),
                outcome="not_upheld",
                points=[{"upheld": False}],
                due_date=due2,
                within_timescale=closed2 <= due2,
                working_days_taken=cal.working_days_between(escalated, closed2),
            ),
            _COMPLAINTS,
            seq + 2,
        )
        if reviews.random() < 0.15:
            closed2 = self.stage_3(cid, closed2, seq + 3)
            seq += 3
        if reviews.random() < 0.25:
            self.ombudsman(cid, closed2, seq + 3)

    def review_at(self, day: date) -> datetime:
        """A working-hours time on ``day`` from the 2026-12 steps' own stream."""
        return datetime(
            day.year, day.month, day.day, self.reviews.randint(9, 16), self.reviews.randint(0, 59), tzinfo=UTC
        )

    def stage_3(self, cid: str, closed: date, seq: int) -> date:
        """Escalated to stage 3; the review panel (mostly within 30 working days of the
        request); the response due 20 working days after it. Returns the response's date."""
        reviews, cal = self.reviews, self.calendar
        requested = cal.add_working_days(closed, reviews.randint(3, 12))
        self.emit(
            ComplaintEscalated(complaint_id=cid, from_stage=2, to_stage=3, escalated_at=self.review_at(requested)),
            _COMPLAINTS,
            seq,
        )
        held = cal.add_working_days(requested, reviews.randint(10, 36))
        self.emit(ComplaintPanelHeld(complaint_id=cid, held_at=self.review_at(held)), _COMPLAINTS, seq + 1)
        answered = cal.add_working_days(held, reviews.randint(5, 25))
        due = cal.add_working_days(held, 20)
        self.emit(
            ComplaintClosed(
                complaint_id=cid,
                stage=3,
                closed_at=self.review_at(answered),
                outcome="not_upheld",
                points=[{"upheld": False}],
                due_date=due,
                within_timescale=answered <= due,
                working_days_taken=cal.working_days_between(requested, answered),
            ),
            _COMPLAINTS,
            seq + 2,
        )
        return answered

    def ombudsman(self, cid: str, answered: date, seq: int) -> None:
        """Referred to the Ombudsman after the final response; its decision months later."""
        reviews = self.reviews
        referred = answered + timedelta(days=reviews.randint(10, 40))
        self.emit(
            ComplaintReferredToOmbudsman(complaint_id=cid, referred_at=self.review_at(referred)), _COMPLAINTS, seq
        )
        decided = referred + timedelta(days=reviews.randint(40, 150))
        finding = reviews.choices(("fault", "no_fault", "not_investigated"), (0.45, 0.3, 0.25))[0]
        self.emit(
            OmbudsmanDecided(complaint_id=cid, decided_at=self.review_at(decided), finding=OmbudsmanFinding(finding)),
            _COMPLAINTS,
            seq + 1,
        )


_COMPLAINTS = "/qaloop/complaints"


def _outcome(points: list[dict[str, bool]]) -> str:
    """A stage's outcome from its points: upheld when all are, not upheld when none is."""
    upheld = sum(p["upheld"] for p in points)
    return "upheld" if upheld == len(points) else "not_upheld" if upheld == 0 else "partially_upheld"
