"""The learning loop on the read models: follow-ups kept incrementally, transitions published
once.

* `FollowUpDeriver.derive_touched` runs in the intake batch's transaction, after the facts
  and derived columns are written: for each origin the batch touched (a complaint, the audits
  of a case, a concern, a service area, question and quarter, an action, a response) it loads
  that origin's facts — complete for that origin, nothing else — and applies the pure rules
  of `followups.py`, then upserts what changed and deletes what no longer holds (a re-audit
  whose moderated grade became good). Its cost is per touched origin, not per history.
* `TransitionPublisher.run_once` (the clock) scans only rows with something to publish,
  through partial indexes (not yet opened, closed but not announced, open and due), and
  publishes each transition once through reporting's outbox under an advisory lock, so that
  several replicas never publish one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from services.reporting import facts as f
from services.reporting.followups import (
    FollowUp,
    Tally,
    TallyKey,
    derive,
    feedback_response_followups,
    rules_of,
)
from services.reporting.queries import workforce_quarters
from services.reporting.readmodels import BatchLoader, ReadModels, Touched
from services.reporting.store import lock_read_models
from services.reporting.workforce import TeamQuarter, WorkforceReviewRules, workforce_review_followups
from shared import outbox, tracing
from shared.calendar import LONDON, parse_period, period_of, periods_between
from shared.events import (
    CloudEvent,
    EventData,
    FollowUpClosed,
    FollowUpDue,
    FollowUpOpened,
    FollowUpOverdue,
    new_event,
    routing_key_for,
)

log = logging.getLogger(__name__)

FOLLOWUP_COLUMNS = (
    "rule",
    "origin",
    "origin_id",
    "team",
    "service_area",
    "opened_on",
    "due_date",
    "closed_on",
    "closed_by_event_id",
    "improved",
)


@dataclass
class _Scope:
    """The origins, per rule, whose follow-ups are re-derived (and may be deleted)."""

    by_rule: dict[str, set[str]] = field(default_factory=dict)

    def add(self, rule: str, origin_ids: set[str]) -> None:
        self.by_rule.setdefault(rule, set()).update(origin_ids)

    def covers(self, fu: FollowUp) -> bool:
        return fu.origin_id in self.by_rule.get(fu.rule, set())


@dataclass
class FollowUpDeriver:
    readmodels: ReadModels

    @property
    def schema(self) -> str:
        return self.readmodels.schema

    async def derive_touched(self, loader: BatchLoader, touched: Touched) -> int:
        """Re-derive the follow-ups of every origin ``touched`` names; returns rows changed."""
        conn, tenant = loader.conn, loader.tenant
        facts, scope = await self._load(loader, touched)
        config = self.readmodels.config
        settings = config.followup_rules(tenant)  # the tenant's, as configured now
        rules = rules_of(settings)
        derived = [x for x in derive(facts, calendar=config.calendar(tenant), rules=rules) if scope.covers(x)]
        keys, tallies, themes = await self._feedback_inputs(conn, tenant, touched)
        if keys:
            yswd = await self._you_said_we_did(conn, tenant, themes)
            derived += feedback_response_followups(tallies, yswd, rules)
            scope.add("feedback-response", {f"{a}:{q}:{p.label}" for a, q, p in keys})
        if touched.workforce_days:
            review_rules = WorkforceReviewRules.of(settings)
            reviews, origin_ids = await WorkforceReviews(self.schema, review_rules).derive(loader, touched)
            derived += reviews
            scope.add("workforce-review", origin_ids)
        return await self._save(conn, tenant, scope, derived)

    async def _load(self, loader: BatchLoader, t: Touched) -> tuple[f.Facts, _Scope]:
        load = loader.load
        complaints = t.complaints | t.origins
        responses = t.responses | t.origins
        findings = t.findings | t.origins
        # Every action of the touched ones and of the origins concerned, with all its rows.
        actions = set(t.actions)
        if complaints or responses or findings:
            by_origin = await loader.conn.fetch(
                f"""SELECT DISTINCT action_id FROM {self.schema}.action_raised
                    WHERE tenant = $1 AND d_first AND origin_id = ANY($2::text[])""",
                loader.tenant,
                sorted(complaints | responses | findings),
            )
            actions |= {r["action_id"] for r in by_origin}
        gradings = await load(f.AuditGradedFact, "case_ref", t.case_refs)
        audit_ids = {g.audit_id for g in gradings}
        facts = f.Facts(
            audits_graded=gradings,
            audits_moderated=await load(f.AuditModeratedFact, "audit_id", audit_ids),
            # The concerns, and those raised to supersede them (they close concern-rework).
            concerns_raised=[
                *await load(f.ConcernRaisedFact, "concern_id", t.concerns),
                *await load(f.ConcernRaisedFact, "supersedes", t.concerns),
            ],
            concerns_resolved=await load(f.ConcernResolvedFact, "concern_id", t.concerns),
            feedback=await load(f.FeedbackFact, "response_id", responses),
            complaints_received=await load(f.ComplaintReceivedFact, "complaint_id", complaints),
            complaints_closed=await load(f.ComplaintClosedFact, "complaint_id", complaints),
            actions_raised=await load(f.ActionRaisedFact, "action_id", actions),
            actions_completed=await load(f.ActionCompletedFact, "action_id", actions),
            inspection_findings=await load(f.InspectionFindingFact, "finding_id", findings),
        )
        scope = _Scope()
        scope.add("complaint-learning", complaints)
        scope.add("re-audit", audit_ids)
        scope.add("concern-targeted-audit", t.concerns)
        scope.add("action", actions)
        scope.add("safeguarding-alert", responses)
        scope.add("concern-rework", t.concerns)
        scope.add("inspection-finding", findings)
        return facts, scope

    async def _feedback_inputs(
        self, conn: asyncpg.Connection, tenant: str, t: Touched
    ) -> tuple[set[TallyKey], dict[TallyKey, Tally], set[tuple[str, str]]]:
        """The (service area, question, quarter) keys to re-derive — those the batch's answers
        fall in, and those of existing follow-ups a You-said-we-did item may close — with
        their tallies over every team (one statement)."""
        keys = {(area, q, period_of(day, "quarter")) for area, q, day in t.feedback_quarters}
        if t.you_said_we_did:
            rows = await conn.fetch(
                f"""SELECT origin_id FROM {self.schema}.followups
                    WHERE tenant = $1 AND rule = 'feedback-response'
                      AND service_area = ANY($2::text[])""",
                tenant,
                sorted({a for a, _ in t.you_said_we_did}),
            )
            for r in rows:
                area, _, rest = r["origin_id"].partition(":")
                question, _, label = rest.rpartition(":")
                if (area, question) in t.you_said_we_did:
                    keys.add((area, question, parse_period(label)))
        if not keys:
            return set(), {}, set()
        ordered = sorted(keys, key=lambda k: (k[0], k[1], k[2].start))
        rows = await conn.fetch(
            f"""SELECT k.i, count(*) FILTER (WHERE a.positive) AS positive, count(a.positive) AS answers
                FROM unnest($2::text[], $3::text[], $4::date[], $5::date[]) WITH ORDINALITY AS k(area, q, s, e, i)
                JOIN {self.schema}.feedback_answer a
                  ON a.tenant = $1 AND a.service_area = k.area AND a.question_id = k.q
                 AND a.received_on BETWEEN k.s AND k.e
                GROUP BY k.i""",
            tenant,
            [k[0] for k in ordered],
            [k[1] for k in ordered],
            [k[2].start for k in ordered],
            [k[2].end for k in ordered],
        )
        tallies = {ordered[r["i"] - 1]: (int(r["positive"]), int(r["answers"])) for r in rows}
        return keys, tallies, {(a, q) for a, q, _ in keys}

    async def _you_said_we_did(
        self, conn: asyncpg.Connection, tenant: str, themes: set[tuple[str, str]]
    ) -> list[f.YouSaidWeDidFact]:
        ordered = sorted(themes)
        rows = await conn.fetch(
            f"""SELECT y.* FROM unnest($2::text[], $3::text[]) AS k(area, theme)
                JOIN {self.schema}.you_said_we_did y
                  ON y.tenant = $1 AND y.service_area = k.area AND y.theme = k.theme""",
            tenant,
            [a for a, _ in ordered],
            [t for _, t in ordered],
        )
        spec = self.readmodels.spec(f.YouSaidWeDidFact)
        return [spec.fact(r) for r in rows]

    async def _keep_trace(self, conn: asyncpg.Connection, tenant: str, new: list[str]) -> None:
        """Where tracing is on, the trace the follow-ups were opened in, for their
        FollowUpOpened (`transition_event`)."""
        if new and (traceparent := tracing.current_traceparent()):
            await conn.execute(
                f"""UPDATE {self.schema}.followups SET traceparent = $3
                    WHERE tenant = $1 AND followup_id = ANY($2::text[])""",
                tenant,
                new,
                traceparent,
            )

    async def _save(self, conn: asyncpg.Connection, tenant: str, scope: _Scope, derived: list[FollowUp]) -> int:
        rules = sorted(scope.by_rule)
        origin_ids = [sorted(scope.by_rule[r]) for r in rules]
        pairs = [(r, o) for r, ids in zip(rules, origin_ids, strict=True) for o in ids]
        if not pairs:
            return 0
        existing = await conn.fetch(
            f"""SELECT x.* FROM unnest($2::text[], $3::text[]) AS k(rule, origin_id)
                JOIN {self.schema}.followups x ON x.tenant = $1 AND x.rule = k.rule AND x.origin_id = k.origin_id""",
            tenant,
            [r for r, _ in pairs],
            [o for _, o in pairs],
        )
        rows = {r["followup_id"]: r for r in existing}
        wanted = {x.followup_id: x for x in derived}
        changed = [x for x in wanted.values() if _differs(rows.get(x.followup_id), x)]
        gone = [fid for fid in rows if fid not in wanted]
        new = [x.followup_id for x in changed if x.followup_id not in rows]
        opened = {"qaloop.tenant": tenant, "qaloop.followup_ids": new[:50], "qaloop.followups_opened": len(new)}
        with tracing.span("follow-ups opened", opened) if new else contextlib.nullcontext():
            await upsert_followups(conn, self.schema, tenant, changed)
            await self._keep_trace(conn, tenant, new)
        if new:  # held before, retracted, and holding again: what was published stays published
            await conn.execute(
                f"""WITH back AS (DELETE FROM {self.schema}.followups_retracted
                                  WHERE tenant = $1 AND followup_id = ANY($2::text[]) RETURNING *)
                    UPDATE {self.schema}.followups x SET {", ".join(f"{f} = back.{f}" for f in FLAGS)}
                    FROM back WHERE x.tenant = $1 AND x.followup_id = back.followup_id""",
                tenant,
                new,
            )
        if gone:
            await conn.execute(
                f"""WITH gone AS (DELETE FROM {self.schema}.followups
                                  WHERE tenant = $1 AND followup_id = ANY($2::text[]) RETURNING *)
                    INSERT INTO {self.schema}.followups_retracted (tenant, followup_id, {", ".join(FLAGS)})
                    SELECT tenant, followup_id, {", ".join(FLAGS)} FROM gone
                    ON CONFLICT (tenant, followup_id) DO UPDATE SET
                    {", ".join(f"{f} = excluded.{f}" for f in FLAGS)}""",
                tenant,
                gone,
            )
        return len(changed) + len(gone)


@dataclass
class WorkforceReviews:
    """workforce-review on the read models: for each team a batch touched (its workers'
    records, leaves and caseloads, or an action raised for it with origin `workforce`), the
    team's quarterly figures from the quarter before the earliest day touched up to the
    quarter of the team's latest workforce fact (or latest review, or day touched), through
    the same SQL as the KPIs, then the pure rule (`workforce.workforce_review_followups`).
    A quarter after the team's latest fact is derived when a later fact (the quarterly
    caseload snapshot) reaches it."""

    schema: str
    rules: WorkforceReviewRules

    async def derive(self, loader: BatchLoader, t: Touched) -> tuple[list[FollowUp], set[str]]:
        conn, tenant = loader.conn, loader.tenant
        first = await self._teams(conn, tenant, t)
        if not first:
            return [], set()
        last = await self._latest(conn, tenant, sorted(first))
        quarters: list[TeamQuarter] = []
        origin_ids: set[str] = set()
        for team in sorted(first):
            start = period_of(first[team], "quarter")
            end = period_of(max(last.get(team, first[team]), first[team]), "quarter")
            periods = [start.previous(), *periods_between(start, end)]
            quarters += await workforce_quarters(conn, self.schema, tenant, team, periods)
            origin_ids |= {f"{team}:{p.label}" for p in periods[1:]}
        rows = await conn.fetch(
            f"""SELECT * FROM {self.schema}.action_raised
                WHERE tenant = $1 AND origin = 'workforce' AND d_first AND team = ANY($2::text[])""",
            tenant,
            sorted(first),
        )
        spec = loader.readmodels.spec(f.ActionRaisedFact)
        actions = [spec.fact(r) for r in rows]
        found = workforce_review_followups(quarters, actions, self.rules)
        return [x for x in found if x.origin_id in origin_ids], origin_ids

    async def _teams(self, conn: asyncpg.Connection, tenant: str, t: Touched) -> dict[str, date]:
        """Each touched team and the earliest day touched: a worker's day counts for every
        team the worker has had a record in."""
        first: dict[str, date] = {}
        by_worker: dict[str, date] = {}
        for team, worker, day in t.workforce_days:
            if team is not None:
                first[team] = min(day, first.get(team, day))
            elif worker is not None:
                by_worker[worker] = min(day, by_worker.get(worker, day))
        if first:  # an action for a team may close a review of an earlier quarter still open
            rows = await conn.fetch(
                f"""SELECT k.team, min(x.opened_on) - 1 AS day
                    FROM unnest($2::text[], $3::date[]) AS k(team, day)
                    JOIN {self.schema}.followups x ON x.tenant = $1 AND x.rule = 'workforce-review'
                     AND x.team = k.team AND x.opened_on <= k.day AND (x.closed_on IS NULL OR x.closed_on > k.day)
                    GROUP BY k.team""",
                tenant,
                list(first),
                list(first.values()),
            )
            for r in rows:
                first[r["team"]] = min(first[r["team"]], r["day"])
        if by_worker:
            rows = await conn.fetch(
                f"""SELECT DISTINCT worker_id, team FROM {self.schema}.staff_joined
                    WHERE tenant = $1 AND worker_id = ANY($2::text[])""",
                tenant,
                sorted(by_worker),
            )
            for r in rows:
                day = by_worker[r["worker_id"]]
                first[r["team"]] = min(day, first.get(r["team"], day))
        return first

    async def _latest(self, conn: asyncpg.Connection, tenant: str, teams: list[str]) -> dict[str, date]:
        """Per team, the latest day of its records, leavers, caseloads and reviews."""
        rows = await conn.fetch(
            f"""SELECT team, max(day) AS day FROM (
                    SELECT team, max(joined_on) AS day FROM {self.schema}.staff_joined
                    WHERE tenant = $1 AND team = ANY($2::text[]) GROUP BY team
                    UNION ALL
                    SELECT d_team, max(left_on) FROM {self.schema}.staff_left
                    WHERE tenant = $1 AND d_counted AND d_team = ANY($2::text[]) GROUP BY d_team
                    UNION ALL
                    SELECT j.team, max(c.as_of) FROM {self.schema}.staff_joined j
                    JOIN {self.schema}.caseload c ON c.tenant = $1 AND c.worker_id = j.worker_id
                    WHERE j.tenant = $1 AND j.team = ANY($2::text[]) GROUP BY j.team
                    UNION ALL
                    SELECT team, max(opened_on) - 1 FROM {self.schema}.followups
                    WHERE tenant = $1 AND rule = 'workforce-review' AND team = ANY($2::text[]) GROUP BY team
                ) u GROUP BY team""",
            tenant,
            teams,
        )
        return {r["team"]: r["day"] for r in rows if r["day"] is not None}


async def upsert_followups(conn: asyncpg.Connection, schema: str, tenant: str, items: list[FollowUp]) -> None:
    if not items:
        return
    columns = ("followup_id", *FOLLOWUP_COLUMNS)
    types = ("text",) * 6 + ("date", "date", "date", "text", "boolean")
    args = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 2))
    sets = ", ".join(f"{c} = excluded.{c}" for c in FOLLOWUP_COLUMNS)
    await conn.execute(
        f"""INSERT INTO {schema}.followups (tenant, {", ".join(columns)})
            SELECT $1, * FROM unnest({args})
            ON CONFLICT (tenant, followup_id) DO UPDATE SET {sets}""",
        tenant,
        *[[getattr(x, c) for x in items] for c in columns],
    )


def _differs(row: asyncpg.Record | None, fu: FollowUp) -> bool:
    return row is None or any(row[name] != getattr(fu, name) for name in FOLLOWUP_COLUMNS)


def followup_of(row: asyncpg.Record | dict[str, Any]) -> FollowUp:
    return FollowUp(followup_id=row["followup_id"], **{c: row[c] for c in FOLLOWUP_COLUMNS})


# --------------------------------------------------------------------------- transitions


SOURCE = "/qaloop/reporting"
FLAGS = ("opened_published", "due_published", "overdue_published", "closed_published")


@dataclass
class TransitionPublisher:
    """Publishes FollowUpOpened (once its opening date has come), Due (on its due date, still
    open), Overdue (the day after, still open) and Closed (when closed), each once: a hundred
    follow-ups per short transaction, each under the read models' writer lock (one publisher
    at a time across replicas, never interleaved with an intake batch, which gets the lock
    between two chunks)."""

    pool: asyncpg.Pool
    clock: Callable[[], date]
    schema: str = "reporting"
    chunk: int = 100
    published: int = 0

    async def run_once(self) -> int:
        """Publish what is due. Untraced: it runs at least once a minute, mostly finding
        nothing, and the follow-ups' traces end where intake opened them."""
        with tracing.untraced():
            return await self._run_once()

    async def _run_once(self) -> int:
        total = 0
        while True:
            found, published = await self._publish_some(self.clock())
            total += published
            if found < self.chunk or not published:
                break
            await asyncio.sleep(0)  # let an intake batch take the lock between chunks
        self.published += total
        return total

    async def _publish_some(self, today: date) -> tuple[int, int]:
        """Publish the pending transitions of up to `chunk` follow-ups: (rows seen, published)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await lock_read_models(conn)
            rows = await conn.fetch(
                f"""SELECT * FROM {self.schema}.followups WHERE NOT opened_published AND opened_on <= $1
                    UNION
                    SELECT * FROM {self.schema}.followups
                    WHERE closed_on IS NOT NULL AND NOT closed_published AND closed_on <= $1 AND opened_on <= $1
                    UNION
                    SELECT * FROM {self.schema}.followups
                    WHERE closed_on IS NULL AND NOT overdue_published AND opened_on <= $1
                      AND ((NOT due_published AND due_date <= $1) OR due_date < $1)
                    UNION
                    SELECT * FROM {self.schema}.followups
                    WHERE closed_on > $1 AND NOT closed_published AND NOT overdue_published AND opened_on <= $1
                      AND ((NOT due_published AND due_date <= $1) OR due_date < $1)
                    ORDER BY tenant, followup_id LIMIT $2""",
                today,
                self.chunk,
            )
            traces = {(r["tenant"], r["followup_id"]): r["traceparent"] for r in rows}
            events: list[tuple[str, EventData, str, str]] = []  # (tenant, data, flag, followup id)
            for row in rows:
                published = {k: bool(row[k]) for k in FLAGS}
                events += [(row["tenant"], *t) for t in transitions(followup_of(row), published, today)]
            for flag in FLAGS:
                pairs = [(tenant, fid) for tenant, _, fl, fid in events if fl == flag]
                if pairs:
                    await conn.execute(
                        f"""UPDATE {self.schema}.followups x SET {flag} = true
                            FROM unnest($1::text[], $2::text[]) AS k(tenant, followup_id)
                            WHERE x.tenant = k.tenant AND x.followup_id = k.followup_id""",
                        [t for t, _ in pairs],
                        [i for _, i in pairs],
                    )
            await outbox.append(
                conn,
                self.schema,
                [
                    (
                        transition_event(tenant, data, fid, traces[tenant, fid]),
                        routing_key_for(data.event_type, "reporting"),
                    )
                    for tenant, data, _, fid in events
                ],
            )
        return len(rows), len(events)


def transition_event(tenant: str, data: EventData, fid: str, traceparent: str | None) -> CloudEvent:
    """A transition's event. FollowUpOpened carries on the trace intake opened the follow-up
    in (an outbox write span there: its publish and its readers join that trace); the
    clock's other transitions start none."""
    if not isinstance(data, FollowUpOpened) or traceparent is None:
        return new_event(data, source=SOURCE, tenant=tenant, subject=f"followup:{fid}")
    event_id = str(uuid.uuid4())
    with tracing.continued(traceparent), tracing.outbox_write(data.event_type, event_id) as written_in:
        return new_event(
            data, source=SOURCE, tenant=tenant, subject=f"followup:{fid}", event_id=event_id, traceparent=written_in
        )


def transitions(fu: FollowUp, published: dict[str, bool], today: date) -> list[tuple[EventData, str, str]]:
    """The transitions of one follow-up due by ``today`` and not yet published, in order:
    (event data, the flag that records it, follow-up id)."""
    out: list[tuple[EventData, str, str]] = []
    if fu.opened_on > today:
        return out
    fid = fu.followup_id
    if not published["opened_published"]:
        opened = FollowUpOpened(
            followup_id=fid,
            rule=fu.rule,
            origin=fu.origin,
            origin_id=fu.origin_id,
            team=fu.team,
            service_area=fu.service_area,
            due_date=fu.due_date,
        )
        out.append((opened, "opened_published", fid))
    open_now = fu.closed_on is None or fu.closed_on > today
    if open_now and today >= fu.due_date and not published["due_published"]:
        out.append((FollowUpDue(followup_id=fid, due_date=fu.due_date), "due_published", fid))
    if open_now and today > fu.due_date and not published["overdue_published"]:
        overdue = FollowUpOverdue(followup_id=fid, due_date=fu.due_date, days_overdue=(today - fu.due_date).days)
        out.append((overdue, "overdue_published", fid))
    if fu.closed_on is not None and fu.closed_on <= today and not published["closed_published"]:
        closed = FollowUpClosed(
            followup_id=fid,
            closed_at=datetime(fu.closed_on.year, fu.closed_on.month, fu.closed_on.day, tzinfo=LONDON),
            closed_by_event_id=fu.closed_by_event_id or "unknown",
            on_time=bool(fu.on_time),
        )
        out.append((closed, "closed_published", fid))
    return out
