"""`qaloop`: the one command line over every service (CONTRACT.md §3).

This module is the composition root: it imports services; `shared` never does. Each
service module is imported only when its command runs, so `qaloop token` works on a
machine with no broker or database.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.installed import SERVICES, installed_services, service_port

if TYPE_CHECKING:
    from shared.access_log import AccessQuery


def _settings() -> Any:
    from shared.settings import get_settings

    return get_settings()


def _service_module(name: str) -> Any:
    return importlib.import_module(f"services.{name}.app")


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    from shared import logging as qlog
    from shared.settings import insecure_settings

    settings = _settings()
    # Development secrets only with QALOOP_ENV=development and on a loopback address; an
    # identity provider only with an audience and an issuer. (StrandService.start checks too.)
    problems = insecure_settings(settings, settings.host)
    if problems:
        for problem in problems:
            print(f"qaloop {args.service}: refusing to start: {problem}", file=sys.stderr)
        return 2
    if args.service == "all":
        return _run_all()
    qlog.configure(settings.log_level, settings.log_json, service=args.service)
    if settings.development_secrets_in_use():
        print(
            f"qaloop {args.service}: development mode (QALOOP_ENV=development) with the development "
            f"{' and '.join(settings.development_secrets_in_use())}; never use them in production",
            file=sys.stderr,
        )
    import uvicorn

    uvicorn.run(
        f"services.{args.service}.app:app",
        host=settings.host,
        port=args.port or service_port(settings, args.service),
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0


def _run_all() -> int:
    """Each service as its own process; Ctrl-C (or SIGTERM) stops them all cleanly."""
    procs = {
        name: subprocess.Popen([sys.executable, "-m", "services.cli", "run", name]) for name in installed_services()
    }
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"qaloop: {name} exited with {proc.returncode}; stopping the others", file=sys.stderr)
                code = proc.returncode or 1
                stopping = True
        time.sleep(0.3)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return code


def cmd_migrate(args: argparse.Namespace) -> int:
    names = [args.service] if args.service else installed_services()

    async def go() -> None:
        for name in names:
            service = _service_module(name).service
            applied = await service.migrate()
            print(f"{name}: {', '.join(applied) if applied else 'up to date'}")

    asyncio.run(go())
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from shared.auth import issue_token

    print(issue_token(_settings(), args.role, subject=args.subject, tenant=args.tenant, ttl_seconds=args.ttl))
    return 0


def cmd_contract_export(args: argparse.Namespace) -> int:
    from shared.contract import export

    for path in export(Path(args.directory)):
        print(path)
    return 0


def cmd_reporting_rebuild(args: argparse.Namespace) -> int:
    from services.reporting.rebuild import run_rebuild_cli

    return run_rebuild_cli()


def cmd_report(args: argparse.Namespace) -> int:
    from services.reporting.report.command import run_report_cli

    return run_report_cli(period=args.period, out=args.out, url=args.url, tenant=args.tenant)


def cmd_demo(args: argparse.Namespace) -> int:
    from services.demo import run_demo

    return run_demo(
        seed=args.seed,
        year=args.year,
        events=args.events,
        stay_up=not args.no_wait,
        scale=args.scale,
        rate=args.rate,
        raw=args.raw,
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from services.simulation.command import run_simulate

    return run_simulate(
        year=args.year,
        seed=args.seed,
        scale=args.scale,
        rate=args.rate,
        period=args.period,
        concurrency=args.concurrency,
        progress=not args.no_progress,
    )


def _operations() -> Any:
    from shared.ops import Operations

    settings = _settings()
    return Operations(settings.amqp_url, settings.rabbitmq_management_url)


def _ops_run(coro: Any) -> Any:
    """Run an ops coroutine; a broker or database that cannot be reached is a clear error."""
    import aio_pika
    import asyncpg

    from shared.ops import UnknownQueue

    try:
        return asyncio.run(coro)
    except UnknownQueue as exc:
        raise SystemExit(f"qaloop ops: {exc}") from None
    except aio_pika.exceptions.ChannelNotFoundEntity as exc:
        raise SystemExit(f"qaloop ops: no such queue ({exc}); has any service declared the topology yet?") from None
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"qaloop ops: cannot reach the broker or database: {type(exc).__name__}: {exc}") from None


def _print_json(data: Any) -> None:
    import json

    print(json.dumps(data, indent=2, default=str))


def cmd_ops_queues(args: argparse.Namespace) -> int:
    from rich.console import Console

    from shared.ops import queues_table

    stats = _ops_run(_operations().queues())
    if args.json:
        _print_json([s.to_dict() for s in stats])
    else:
        Console().print(queues_table(stats))
    return 2 if all(s.source == "unreachable" for s in stats) else 0


def cmd_ops_dlq_list(args: argparse.Namespace) -> int:
    from rich.console import Console

    from shared.ops import dead_letters_table

    depth, letters = _ops_run(_operations().dlq_list(args.queue, limit=args.limit))
    if args.json:
        _print_json({"depth": depth, "dead_letters": [d.summary() for d in letters]})
    else:
        Console().print(dead_letters_table(args.queue, depth, letters))
    return 0


def cmd_ops_dlq_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    letter = _ops_run(_operations().dlq_show(args.queue, args.id))
    if letter is None:
        print(f"qaloop ops: no dead letter {args.id!r} in {args.queue}.dlq", file=sys.stderr)
        return 1
    if args.json:
        _print_json(letter.to_dict())
        return 0
    console = Console()
    table = Table(title=f"dead letter {letter.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in letter.summary().items():
        table.add_row(key, "-" if value is None else str(value))
    console.print(table)
    console.print("[bold]headers[/]")
    console.print_json(data=letter.to_dict()["headers"], default=str)
    console.print("[bold]event[/]")
    event = letter.event()
    if isinstance(event, str):
        console.print(event, markup=False, highlight=False)
    else:
        console.print_json(data=event)
    return 0


def cmd_ops_dlq_replay(args: argparse.Namespace) -> int:
    if args.all == bool(args.ids):
        raise SystemExit("qaloop ops dlq replay: give message ids or --all (not both)")
    result = _ops_run(_operations().dlq_replay(args.queue, None if args.all else args.ids))
    if args.json:
        _print_json(result.to_dict())
    else:
        print(f"replayed {len(result.replayed)} dead letter(s) from {args.queue}.dlq to {args.queue}")
        for letter_id in result.replayed:
            print(f"  replayed   {letter_id}")
        for letter_id, why in result.skipped.items():
            print(f"  kept       {letter_id}: {why}")
        for letter_id in result.not_found:
            print(f"  not found  {letter_id}")
    return 1 if result.skipped or result.not_found else 0


def cmd_ops_dlq_purge(args: argparse.Namespace) -> int:
    from shared.ops import UnknownQueue, queue_spec

    operations = _operations()
    try:
        dlq = queue_spec(args.queue).dlq
    except UnknownQueue as exc:
        raise SystemExit(f"qaloop ops: {exc}") from None
    if not args.yes:
        depth = _ops_run(operations.depth(dlq))
        if not depth:
            print(f"{dlq} is empty; nothing to purge")
            return 0
        try:
            answer = input(f"Delete the {depth} dead letter(s) in {dlq} for good? Type 'yes' to confirm: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("nothing purged")
            return 1
    purged = _ops_run(operations.dlq_purge(args.queue))
    print(f"purged {purged} dead letter(s) from {dlq}")
    return 0


def cmd_ops_lag(args: argparse.Namespace) -> int:
    import asyncpg
    from rich.console import Console

    from services.reporting.ops import lag_report, projection_table
    from shared.ops import OutboxBacklog, outbox_table

    async def go() -> dict[str, Any]:
        conn = await asyncpg.connect(_settings().database_url, timeout=10)
        try:
            return await lag_report(conn, _operations())
        finally:
            await conn.close()

    report = _ops_run(go())
    if args.json:
        _print_json(report)
        return 0
    console = Console()
    console.print(outbox_table([OutboxBacklog(**b) for b in report["outbox"]]))
    console.print(projection_table(report["projection"]))
    return 0


def _when(text: str | None) -> Any:
    """An ISO 8601 date or date-time (a bare date is London midnight, a naive date-time UTC),
    or an age such as 30m, 24h, 7d: that long ago."""
    import re
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    if text is None:
        return None
    age = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if age:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[age.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(age.group(1))})
    try:
        if len(text.strip()) == 10:
            day = datetime.fromisoformat(text.strip())
            return day.replace(tzinfo=ZoneInfo("Europe/London"))
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(f"qaloop ops access-log: not a date, date-time or age (30m, 24h, 7d): {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _cli_reader() -> str:
    """Who reads the access log, as its own entry names them: the login user (or uid)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name (container without one)
        return str(os.getuid())


async def _read_access_logs(
    database_url: str, names: list[str], q: AccessQuery, reader: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The entries of each service's access log that ``q`` asks for, newest first (at most
    ``q.limit``), recording the read in each log read; and the services with no access log
    in this database."""
    import asyncpg

    from shared import access_log

    conn = await asyncpg.connect(database_url, timeout=10)
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    try:
        for name in names:
            if not await access_log.has_access_log(conn, name):
                missing.append(name)
                continue
            found += await access_log.query(conn, name, q)
            record = access_log.AccessRecord(
                service=name,
                tenant=q.tenant,
                token_tenant=None,
                subject=f"cli:{reader}",
                method="CLI",
                route="qaloop ops access-log",
                ids={},
                status=0,
                personal_data=True,
                trace_id=None,
                duration_ms=None,
            )
            await access_log.append(conn, name, record)
    finally:
        await conn.close()
    found.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
    return found[: q.limit], missing


def _print_access_log(tenant: str, entries: list[dict[str, Any]], missing: list[str]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"access log, tenant {tenant} (newest first)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("at", "service", "subject", "request", "ids", "status"):
        table.add_column(column, overflow="fold")
    for e in entries:
        ids = ", ".join(f"{k}={v}" for k, v in e["ids"].items())
        table.add_row(
            e["at"][:23],
            e["service"],
            e["subject"] or "(no valid token)",
            f"{e['method']} {e['route']}",
            ids,
            str(e["status"]),
        )
    if missing:
        table.caption = f"no access log in this database for: {', '.join(missing)}"
    Console().print(table)


def cmd_ops_access_log(args: argparse.Namespace) -> int:
    """Read the access log of each service's schema straight from the database (like `ops
    lag`), for one tenant; the read itself is recorded in each log it read."""
    from shared import access_log

    settings = _settings()
    tenant = args.tenant or settings.tenant
    names = [args.service] if args.service else list(SERVICES)
    q = access_log.AccessQuery(
        tenant=tenant,
        since=_when(args.since),
        until=_when(args.until),
        subject=args.subject,
        route=args.route,
        limit=args.limit,
    )
    entries, missing = _ops_run(_read_access_logs(settings.database_url, names, q, _cli_reader()))
    if args.json:
        _print_json({"tenant": tenant, "entries": entries, "not_in_this_database": missing})
    else:
        _print_access_log(tenant, entries, missing)
    return 0


# --------------------------------------------------------------------------- parser


def cmd_notifier_recipients_import(args: argparse.Namespace) -> int:
    from services.notifier.command import run_import

    return run_import(args.file, args.tenant)


def cmd_notifier_digest(args: argparse.Namespace) -> int:
    from services.notifier.command import run_digest

    return run_digest(args.day)


def cmd_benchmarks_import(args: argparse.Namespace) -> int:
    from services.reporting.benchmarks.command import run_import

    return run_import(args.file, args.tenant)


def cmd_benchmarks_live_comparison(args: argparse.Namespace) -> int:
    from services.reporting.benchmarks.command import run_live_comparison

    return run_live_comparison(args.action, args.tenant)


def cmd_config(args: argparse.Namespace) -> int:
    from shared.tenant_config.command import parse_value, run_config
    from shared.tenant_config.model import Setting

    extra: dict[str, Any] = {}
    if getattr(args, "setting", None):
        extra["setting"] = Setting(args.setting)
    if getattr(args, "value", None) is not None:
        extra["value"] = parse_value(args.value)
    if getattr(args, "limit", None):
        extra["limit"] = args.limit
    return run_config(args.config_command, args.tenant, as_json=getattr(args, "json", False), **extra)


def _add_config(sub: Any) -> None:
    from shared.tenant_config.model import Setting

    names = [s.value for s in Setting]
    p = sub.add_parser("config", help="the authority's configuration: show, set, reset, history")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    tenant = argparse.ArgumentParser(add_help=False)
    tenant.add_argument("--tenant", default=None, help="the authority (default: QALOOP_TENANT)")
    c = csub.add_parser("show", parents=[tenant], help="every setting in force (JSON), and which were changed")
    c.set_defaults(func=cmd_config)
    c = csub.add_parser("set", parents=[tenant], help="change one setting (recorded with who and when)")
    c.add_argument("setting", choices=names)
    c.add_argument("value", help='JSON (5, \'"best_fit"\', \'{"kpi": {"target": 0.9}}\') or @FILE.json')
    c.add_argument("--json", action="store_true", help="print the change as JSON")
    c.set_defaults(func=cmd_config)
    c = csub.add_parser("reset", parents=[tenant], help="return one setting to its default")
    c.add_argument("setting", choices=names)
    c.set_defaults(func=cmd_config)
    c = csub.add_parser("history", parents=[tenant], help="who changed what and when, newest first")
    c.add_argument("--setting", choices=names, default=None)
    c.add_argument("--limit", type=int, default=100)
    c.add_argument("--json", action="store_true", help="print JSON instead of lines")
    c.set_defaults(func=cmd_config)


def _add_benchmarks(sub: Any) -> None:
    p = sub.add_parser("benchmarks", help="benchmarking across authorities: comparator data, live comparison")
    bsub = p.add_subparsers(dest="benchmarks_command", required=True, metavar="SUBCOMMAND")
    i = bsub.add_parser(
        "import",
        help="import a comparator CSV: statistical neighbours or published figures (LAIT shape); "
        "a file with any bad row imports nothing",
    )
    i.add_argument("file")
    i.add_argument("--tenant", default=None, help="the importing authority (default: QALOOP_TENANT)")
    i.set_defaults(func=cmd_benchmarks_import)
    c = bsub.add_parser("live-comparison", help="opt the authority in to (or out of) live comparison, or show it")
    c.add_argument("action", choices=("on", "off", "status"))
    c.add_argument("--tenant", default=None, help="the authority (default: QALOOP_TENANT)")
    c.set_defaults(func=cmd_benchmarks_live_comparison)


def _add_notifier(sub: Any) -> None:
    p = sub.add_parser("notifier", help="the follow-up notifier: its recipient directory, the daily digests")
    nsub = p.add_subparsers(dest="notifier_command", required=True, metavar="SUBCOMMAND")
    r = nsub.add_parser("recipients", help="the recipient directory (staff id / team -> e-mail address)")
    rsub = r.add_subparsers(dest="recipients_command", required=True, metavar="SUBCOMMAND")
    i = rsub.add_parser("import", help="replace a tenant's directory with a CSV file: kind,id,email[,delivery]")
    i.add_argument("file", help="the CSV file (kind: staff or team)")
    i.add_argument("--tenant", default=None, help="the authority (default: QALOOP_TENANT)")
    i.set_defaults(func=cmd_notifier_recipients_import)
    d = nsub.add_parser("digest", help="send the day's digests not sent yet (recipients with daily delivery)")
    d.add_argument("--day", default=None, help="the day, YYYY-MM-DD (default: today in London)")
    d.set_defaults(func=cmd_notifier_digest)


def _add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="migrate, start every service, feed a simulated year, print a KPI summary")
    p.add_argument("--year", default="2022-23", help="financial year to simulate")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same year")
    p.add_argument("--scale", type=float, default=1.0, help="share of a county's volumes (1: full size)")
    p.add_argument("--rate", type=float, default=None, help="at most this many requests + events a second")
    p.add_argument("--raw", action="store_true", help="feed a ready-made event stream onto the bus instead (faster)")
    p.add_argument("--events", type=int, default=8000, help="with --raw: how many events the stream has")
    p.add_argument("--no-wait", action="store_true", help="stop after the summary instead of staying up")
    p.set_defaults(func=cmd_demo)


def _add_simulate(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="act as a case-management system and as staff: publish casework events and drive the strand APIs",
    )
    p.add_argument("--year", required=True, help="financial year to simulate, e.g. 2022-23")
    p.add_argument("--seed", type=int, required=True, help="the same seed gives the same year")
    p.add_argument("--rate", type=float, default=None, help="at most this many requests + events a second")
    p.add_argument("--scale", type=float, default=1.0, help="share of a county's volumes (1: full size)")
    p.add_argument("--period", default=None, help="only this month or quarter of the year (e.g. 2022-07, 2022-23-Q2)")
    p.add_argument("--concurrency", type=int, default=16, help="stories (audits, complaints, …) sent at once")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    p.set_defaults(func=cmd_simulate)


def _add_services(sub: Any) -> None:
    """run, migrate and token: the services themselves."""
    p = sub.add_parser("run", help="run services in the foreground (migrations applied at start)")
    p.add_argument("service", choices=("all", *SERVICES))
    p.add_argument("--port", type=int, default=None, help="override the service's default port")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("service", nargs="?", choices=SERVICES)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("token", help="print a development token (HS256, QALOOP_JWT_SECRET)")
    p.add_argument("--role", action="append", required=True, help="a role; repeat for several")
    p.add_argument("--subject", default="developer")
    p.add_argument("--tenant", default=None, help="the token's tenant claim (default: QALOOP_TENANT)")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    p.set_defaults(func=cmd_token)


def _add_contract_and_reporting(sub: Any) -> None:
    """contract export, reporting rebuild and report."""
    p = sub.add_parser("contract", help="the public contract")
    csub = p.add_subparsers(dest="contract_command", required=True, metavar="SUBCOMMAND")
    e = csub.add_parser("export", help="write JSON Schemas of every event and the AsyncAPI document")
    e.add_argument("directory")
    e.set_defaults(func=cmd_contract_export)

    p = sub.add_parser("reporting", help="reporting service maintenance")
    rsub = p.add_subparsers(dest="reporting_command", required=True, metavar="SUBCOMMAND")
    r = rsub.add_parser("rebuild", help="rebuild the read models from the event store, with progress")
    r.set_defaults(func=cmd_reporting_rebuild)

    p = sub.add_parser(
        "report",
        help="the quarterly QA report as PDF or HTML (small numbers suppressed)",
        description="Build the quarterly QA report straight from reporting's database (works offline: no "
        "broker or running service needed), or with --url fetch it from a running reporting service.",
    )
    p.add_argument("--period", required=True, help="a financial quarter, such as 2022-23-Q2")
    p.add_argument("--out", required=True, help="the file to write: FILE.pdf or FILE.html")
    p.add_argument("--url", default=None, help="fetch from this reporting service (e.g. http://127.0.0.1:8000)")
    p.add_argument("--tenant", default=None, help="the authority (default: QALOOP_TENANT)")
    p.set_defaults(func=cmd_report)


def _add_dlq(osub: Any, json_flag: argparse.ArgumentParser, queue_flag: argparse.ArgumentParser) -> None:
    o = osub.add_parser("dlq", help="dead letters: list, show, replay, purge")
    dsub = o.add_subparsers(dest="dlq_command", required=True, metavar="SUBCOMMAND")
    d = dsub.add_parser("list", parents=[json_flag, queue_flag], help="list dead letters (none is removed)")
    d.add_argument("--limit", type=int, default=100)
    d.set_defaults(func=cmd_ops_dlq_list)
    d = dsub.add_parser("show", parents=[json_flag, queue_flag], help="one dead letter: reason headers and the event")
    d.add_argument("id", help="message id (the CloudEvents id) or the sha256:… id that list shows")
    d.set_defaults(func=cmd_ops_dlq_show)
    d = dsub.add_parser(
        "replay", parents=[json_flag, queue_flag], help="re-publish to the original routing key, then remove"
    )
    d.add_argument("ids", nargs="*", metavar="ID")
    d.add_argument("--all", action="store_true", help="replay every dead letter of the queue")
    d.set_defaults(func=cmd_ops_dlq_replay)
    d = dsub.add_parser("purge", parents=[queue_flag], help="delete every dead letter of the queue (asks first)")
    d.add_argument("--yes", action="store_true", help="do not ask")
    d.set_defaults(func=cmd_ops_dlq_purge)


def _add_access_log(osub: Any, json_flag: argparse.ArgumentParser) -> None:
    o = osub.add_parser(
        "access-log",
        parents=[json_flag],
        help="who read personal data and who wrote what (the services' append-only access logs)",
    )
    o.add_argument("--service", choices=SERVICES, default=None, help="one service (default: every one)")
    o.add_argument("--subject", default=None, help="a token subject (sub)")
    o.add_argument("--route", default=None, help="a route template, e.g. /v1/complaints/{complaint_id}")
    o.add_argument("--since", default=None, help="ISO date or date-time, or an age: 30m, 24h, 7d")
    o.add_argument("--until", default=None, help="ISO date or date-time, or an age (exclusive)")
    o.add_argument("--tenant", default=None, help="the authority (default: QALOOP_TENANT)")
    o.add_argument("--limit", type=int, default=100, help="at most this many entries")
    o.set_defaults(func=cmd_ops_access_log)


def _add_ops(sub: Any) -> None:
    p = sub.add_parser("ops", help="operations: queues, dead letters, lag, access log")
    osub = p.add_subparsers(dest="ops_command", required=True, metavar="SUBCOMMAND")
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON instead of a table")
    queue_flag = argparse.ArgumentParser(add_help=False)
    queue_flag.add_argument("--queue", default="reporting.events", help="the consuming queue whose DLQ to use")
    o = osub.add_parser("queues", parents=[json_flag], help="depth, consumers and rates of every queue and its DLQ")
    o.set_defaults(func=cmd_ops_queues)
    o = osub.add_parser("lag", parents=[json_flag], help="outbox backlog per service; projection lag")
    o.set_defaults(func=cmd_ops_lag)
    _add_dlq(osub, json_flag, queue_flag)
    _add_access_log(osub, json_flag)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qaloop",
        description="qaloop: quality assurance for children's services — KPIs, feedback, audits and "
        "complaints on an event bus, closing the learning loop.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    _add_simulate(sub)
    _add_services(sub)
    _add_contract_and_reporting(sub)
    _add_ops(sub)
    _add_notifier(sub)
    _add_benchmarks(sub)
    _add_config(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
