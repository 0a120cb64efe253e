"""Sending a `Plan`: casework events onto the bus as the case-management systems, and staff
work through the strand HTTP APIs with development tokens.

The HTTP clients (one per strand) and the casework sink are injected: the command line
passes clients for the services' ports and a `BusSink`; tests pass ASGI clients. Month by
month, the month's casework is published while the stories that start in it run, several
at a time (each story's calls in order). A call that fails ends its story (the rest
depends on it) and is counted and reported; a service that cannot be reached at all stops
the run with `ServicesUnavailable`, which says how to start the services.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.simulation.authority import EHCP_AREAS, TEMPLATE_AREAS
from services.simulation.feedback import SURVEYS
from services.simulation.plan import Call, CmsEvent, Plan, Story, resolve_path, to_json
from shared.auth import issue_token
from shared.bus import OutgoingMessage, Publisher, connect, declare_topology
from shared.events import CloudEvent, new_event
from shared.pseudonym import pseudonymise, subject_for
from shared.settings import Settings

STRANDS = ("audit", "feedback", "complaints", "workforce")
# Strands every run needs; another one (workforce) only when the plan has calls for it.
CORE_STRANDS = ("audit", "feedback", "complaints")
HOW_TO_START = (
    "Start the services with `qaloop run all` (in another terminal), "
    "or run `qaloop demo`, which starts everything and simulates a year."
)
CONNECT_RETRIES = 4
MAX_ERRORS_SHOWN = 8


class ServicesUnavailable(Exception):
    """The services (or the broker) cannot be reached: what is missing and how to start it."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join([*self.problems, HOW_TO_START]))


class CaseworkSink(Protocol):
    async def open(self) -> None: ...

    async def publish(self, events: Sequence[CloudEvent]) -> int: ...

    async def close(self) -> None: ...


class BusSink:
    """Publishes casework events to `qa.events` (persistent, mandatory, confirmed)."""

    def __init__(self, amqp_url: str, *, delivery_limit: int = 20) -> None:
        self.amqp_url = amqp_url
        self.delivery_limit = delivery_limit
        self._connection: Any = None
        self._publisher: Publisher | None = None

    async def open(self) -> None:
        try:
            self._connection = await asyncio.wait_for(connect(self.amqp_url), 10)
        except Exception as exc:
            raise ServicesUnavailable(
                [
                    f"RabbitMQ is not reachable at {self.amqp_url.split('@')[-1]} ({exc or type(exc).__name__}).\n"
                    "  Start it with: rabbitmq-server -detached   (or: docker compose up -d rabbitmq)"
                ]
            ) from None
        async with self._connection.channel() as channel:
            await declare_topology(channel, delivery_limit=self.delivery_limit)
        self._publisher = Publisher(self._connection)

    async def publish(self, events: Sequence[CloudEvent]) -> int:
        assert self._publisher is not None, "open() first"
        return await self._publisher.publish_many([OutgoingMessage(e.routing_key(), e.to_json(), e.id) for e in events])

    async def close(self) -> None:
        if self._publisher is not None:
            await self._publisher.close()
        if self._connection is not None:
            await self._connection.close()


class RateLimit:
    """At most `rate` units a second, evenly paced (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("--rate must be above 0")
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()

    async def take(self, units: int = 1) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + units * self.interval
        if start > now:
            await asyncio.sleep(start - now)


@dataclass
class Summary:
    """What a run sent: casework events by type, API calls by kind, failures and why."""

    events: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    not_run: int = 0  # calls left out because an earlier call of their story failed
    strand_events: int = 0  # events the strands publish for the calls that succeeded
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def events_for_reporting(self) -> int:
        """Events reporting will receive: casework published plus what the strands publish."""
        return sum(self.events.values()) + self.strand_events

    def table(self, title: str = "What the simulator sent") -> Table:
        table = Table(title=title)
        table.add_column("sent")
        table.add_column("what")
        table.add_column("ok", justify="right")
        table.add_column("failed", justify="right")
        for kind in sorted(self.events):
            table.add_row("bus", kind, str(self.events[kind]), "")
        for kind in sorted(set(self.calls) | set(self.failures)):
            strand, _, what = kind.partition(".")
            failed = self.failures.get(kind, 0)
            table.add_row(f"{strand} API", what, str(self.calls.get(kind, 0)), f"[red]{failed}[/red]" if failed else "")
        total = sum(self.events.values()) + sum(self.calls.values())
        rate = total / self.elapsed if self.elapsed else 0.0
        table.caption = (
            f"{sum(self.events.values())} casework events, {sum(self.calls.values())} API calls "
            f"({sum(self.failures.values())} failed, {self.not_run} not run after a failure) "
            f"in {self.elapsed:.1f} s — {rate:.0f}/s"
        )
        return table


class Simulator:
    def __init__(
        self,
        plan: Plan,
        *,
        clients: Mapping[str, httpx.AsyncClient],
        sink: CaseworkSink,
        settings: Settings,
        rate: float | None = None,
        concurrency: int = 16,
        console: Console | None = None,
        show_progress: bool = True,
    ) -> None:
        needed = {*CORE_STRANDS, *(c.strand for c in plan.calls())}
        missing = [s for s in STRANDS if s in needed and s not in clients]
        if missing:
            raise ValueError(f"no HTTP client for {', '.join(missing)}")
        self.plan = plan
        self.clients = clients
        self.sink = sink
        self.settings = settings
        self.limit = RateLimit(rate)
        self.concurrency = concurrency
        self.console = console or Console()
        self.show_progress = show_progress
        self.summary = Summary()
        self._tokens: dict[tuple[str, str], str] = {}
        self._pseudonyms: dict[str, str] = {}
        self._abort: ServicesUnavailable | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    # ----------------------------------------------------------------------- checks

    async def preflight(self) -> None:
        """Every strand answers and is ready, the broker is reachable, and the services have
        the audit templates and seeded surveys the plan uses. Raises ServicesUnavailable."""
        problems = []
        for strand in STRANDS:
            client = self.clients.get(strand)
            if client is None:
                continue
            try:
                reply = await client.get("/readyz", timeout=10)
            except httpx.HTTPError as exc:
                problems.append(
                    f"The {strand} service is not reachable at {client.base_url} "
                    f"({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})."
                )
                continue
            if reply.status_code != 200:
                problems.append(f"The {strand} service at {client.base_url} is not ready: {reply.text[:300]}")
        try:
            await self.sink.open()
        except ServicesUnavailable as exc:
            problems += exc.problems
        if problems:
            raise ServicesUnavailable(problems)
        problems += await self._check_templates()
        problems += await self._check_seeded_surveys()
        if problems:
            raise ServicesUnavailable(problems)

    async def _check_templates(self) -> list[str]:
        reply = await self.clients["audit"].get("/v1/templates", headers=self._auth("audit:write", "simulator"))
        if reply.status_code != 200:
            return [f"The audit service refused GET /v1/templates: {reply.status_code} {reply.text[:200]}"]
        defaults = {
            (t["service_area"], t["audit_type"]): tuple(a["key"] for a in t["areas"])
            for t in reply.json()["items"]
            if t["is_default"]
        }
        wanted = {(area, None): areas for area, areas in TEMPLATE_AREAS.items()} | {("send", "ehcp"): EHCP_AREAS}
        return [
            f"The audit service's default {kind or 'case-file'} template for {area} grades "
            f"{list(defaults.get((area, kind), ()))}; the simulator grades {list(areas)}."
            for (area, kind), areas in wanted.items()
            if defaults.get((area, kind)) != areas
        ]

    async def _check_seeded_surveys(self) -> list[str]:
        problems = []
        for survey in (s for s in SURVEYS if s.seeded):
            reply = await self.clients["feedback"].get(
                f"/v1/surveys/{survey.survey_id}",
                params={"version": 1},
                headers=self._auth("feedback:write", "simulator"),
            )
            have = {q["question_id"] for q in reply.json().get("questions", [])} if reply.status_code == 200 else set()
            want = {q.question_id for q in survey.questions}
            if not want <= have:
                problems.append(
                    f"The feedback service has no survey {survey.survey_id} version 1 with questions "
                    f"{sorted(want)} (its migrations seed it)."
                )
        return problems

    async def previous_run(self) -> str | None:
        """Whether this plan (this seed's ids) was already sent to these services, at least in
        part: sending it again would count audits twice (the audit service chooses their ids)."""
        marker = next((c for c in self.plan.calls() if c.kind == "complaints.receive"), None)
        if marker is not None:
            complaint_id = marker.body["complaint_id"]
            reply = await self.clients["complaints"].get(
                f"/v1/complaints/{complaint_id}", headers=self._auth("complaints:write", "simulator")
            )
            if reply.status_code == 200:
                return f"complaint {complaint_id} is already recorded"
        marker = next((c for c in self.plan.calls() if c.kind == "feedback.response"), None)
        if marker is not None:
            response_id = marker.body["response_id"]
            reply = await self.clients["feedback"].get(
                f"/v1/responses/{response_id}", headers=self._auth("feedback:write", "simulator")
            )
            if reply.status_code == 200:
                return f"survey response {response_id} is already recorded"
        return None

    # ----------------------------------------------------------------------- running

    async def run(self) -> Summary:
        started = time.monotonic()
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[failed]}"),
            console=self.console,
            disable=not self.show_progress,
        )
        self._progress = progress
        with progress:
            self._task = progress.add_task("setting up", total=self.plan.requests + len(self.plan.casework), failed="")
            finished = False
            try:
                for call in self.plan.setup:
                    if not await self._call(call, {}):
                        break
                slots = asyncio.Semaphore(self.concurrency)
                for month in self.plan.months():
                    progress.update(self._task, description=f"simulating {month.label}")
                    await asyncio.gather(
                        self._publish(month.casework),
                        *(self._story(story, slots) for story in month.stories),
                    )
                    if self._abort is not None:
                        raise self._abort
                finished = True
            finally:
                self.summary.elapsed = time.monotonic() - started
                progress.update(self._task, description="done" if finished else "stopped")
        return self.summary

    async def _story(self, story: Story, slots: asyncio.Semaphore) -> None:
        async with slots:
            refs: dict[str, str] = {}
            for i, call in enumerate(story.calls):
                if self._abort is not None or not await self._call(call, refs):
                    left = len(story.calls) - i - 1
                    self.summary.not_run += left if self._abort is None else 0
                    self._advance(left)
                    return

    async def _call(self, call: Call, refs: dict[str, str]) -> bool:
        client = self.clients[call.strand]
        path = resolve_path(call.path, refs)
        body = to_json(call.body, refs)
        headers = self._auth(call.role, call.actor)
        sent_unanswered = False  # an earlier attempt may have been applied
        try:
            for attempt in range(CONNECT_RETRIES):
                await self.limit.take()
                try:
                    reply = await client.request(call.method, path, json=body, headers=headers)
                    break
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    # never reached the service: safe to try again
                    if attempt == CONNECT_RETRIES - 1:
                        self._abort = self._abort or ServicesUnavailable(
                            [f"The {call.strand} service stopped answering at {client.base_url} ({exc})."]
                        )
                        return False
                    await asyncio.sleep(0.5 * 2**attempt)
                except httpx.HTTPError as exc:
                    # Sent but unanswered: repeated only where a repeat is harmless (the
                    # feedback service treats a record sent again with its id as a retry);
                    # elsewhere it may have been applied, so it counts as failed.
                    if call.strand == "feedback" and attempt < CONNECT_RETRIES - 1:
                        sent_unanswered = True
                        await asyncio.sleep(0.5 * 2**attempt)
                        continue
                    self._fail(call, path, f"{type(exc).__name__}: {exc or 'no answer'}")
                    return False
            if reply.status_code >= 300:
                self._fail(call, path, f"{reply.status_code} {_detail(reply)}")
                return False
            self.summary.calls[call.kind] += 1
            # A feedback record sent again with its id answers 200 and publishes nothing. A
            # completion answers 200 either way: it published nothing new only if an earlier
            # attempt got through (unknown: counted as such, so that waiting never overshoots).
            retried = (
                call.strand == "feedback"
                and call.method == "POST"
                and (sent_unanswered if call.path.endswith("/complete") else reply.status_code == 200)
            )
            self.summary.strand_events += 0 if retried else call.events
            if call.capture is not None:
                key, name = call.capture
                refs[key] = str(reply.json()[name])
            return True
        finally:
            self._advance(1)

    async def _publish(self, events: Sequence[CmsEvent]) -> None:
        chunk = 500
        if self.limit.interval:
            chunk = max(1, min(chunk, int(1 / self.limit.interval)))
        for start in range(0, len(events), chunk):
            if self._abort is not None:
                return
            part = events[start : start + chunk]
            await self.limit.take(len(part))
            try:
                confirmed = await self.sink.publish([self._cloud_event(e) for e in part])
            except Exception as exc:
                self._abort = self._abort or ServicesUnavailable(
                    [f"Publishing casework events failed: RabbitMQ {type(exc).__name__}: {exc}"]
                )
                return
            self.summary.events.update(e.type for e in part[:confirmed])
            if confirmed < len(part):
                for e in part[confirmed:]:
                    self.summary.failures[f"casework.{e.type}"] += 1
                self._note(f"casework: only {confirmed} of {len(part)} events confirmed by the broker")
            self._advance(len(part))

    def _cloud_event(self, event: CmsEvent) -> CloudEvent:
        raw = event.data.child_ref  # type: ignore[attr-defined]
        ref = self._pseudonyms.get(raw)
        if ref is None:
            ref = self._pseudonyms[raw] = pseudonymise(
                raw, self.settings.pseudonym_key.get_secret_value(), self.settings.pseudonym_key_id
            )
        return new_event(
            event.data.model_copy(update={"child_ref": ref}),
            source=event.source,
            tenant=self.settings.tenant,
            subject=subject_for(ref),
            sequence=1,
            time=event.at,
            event_id=event.event_id,
        )

    # ----------------------------------------------------------------------- helpers

    def _auth(self, role: str, subject: str) -> dict[str, str]:
        token = self._tokens.get((role, subject))
        if token is None:
            token = self._tokens[(role, subject)] = issue_token(self.settings, [role], subject=subject)
        return {"Authorization": f"Bearer {token}"}

    def _fail(self, call: Call, path: str, reason: str) -> None:
        self.summary.failures[call.kind] += 1
        self._note(f"{call.kind}: {call.method} {path}: {reason}")

    def _note(self, message: str) -> None:
        if len(self.summary.errors) < MAX_ERRORS_SHOWN:
            self.summary.errors.append(message)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, failed=f"[red]{sum(self.summary.failures.values())} failed[/red]")

    def _advance(self, n: int) -> None:
        if self._progress is not None and self._task is not None and n:
            self._progress.advance(self._task, n)


def _detail(reply: httpx.Response) -> str:
    try:
        detail = reply.json().get("detail", reply.text)
    except ValueError:
        detail = reply.text
    text = detail if isinstance(detail, str) else str(detail)
    return text[:300]
