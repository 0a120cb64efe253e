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
from typing import Any

SERVICES = ("audit", "feedback", "complaints", "reporting")


def _settings() -> Any:
    from shared.settings import get_settings

    return get_settings()


def _service_module(name: str) -> Any:
    return importlib.import_module(f"services.{name}.app")


def _port(name: str) -> int:
    return int(getattr(_settings(), f"{name}_port"))


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    from shared import logging as qlog

    settings = _settings()
    if args.service == "all":
        return _run_all()
    qlog.configure(settings.log_level, settings.log_json)
    if settings.using_development_secrets():
        print(
            f"qaloop {args.service}: using the development JWT secret / pseudonym key; "
            "set QALOOP_JWT_SECRET and QALOOP_PSEUDONYM_KEY in production",
            file=sys.stderr,
        )
    import uvicorn

    uvicorn.run(
        f"services.{args.service}.app:app",
        host=settings.host,
        port=args.port or _port(args.service),
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0


def _run_all() -> int:
    """Each service as its own process; Ctrl-C (or SIGTERM) stops them all cleanly."""
    procs = {
        name: subprocess.Popen([sys.executable, "-m", "services.cli", "run", name])
        for name in SERVICES
        if _has_service(name)
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


def _has_service(name: str) -> bool:
    return (Path(__file__).parent / name / "app.py").exists()


def cmd_migrate(args: argparse.Namespace) -> int:
    names = [args.service] if args.service else [n for n in SERVICES if _has_service(n)]

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

    return run_rebuild_cli(projection=args.projection)


def cmd_demo(args: argparse.Namespace) -> int:
    from services.demo import run_demo

    return run_demo(seed=args.seed, year=args.year, events=args.events, stay_up=not args.no_wait)


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qaloop",
        description="qaloop: quality assurance for children's services — KPIs, feedback, audits and "
        "complaints on an event bus, closing the learning loop.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="migrate, start every service, feed a simulated year, print a KPI summary")
    p.add_argument("--year", default="2022-23", help="financial year to simulate")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same year")
    p.add_argument("--events", type=int, default=8000, help="how many events the simulated year has")
    p.add_argument("--no-wait", action="store_true", help="stop after the summary instead of staying up")
    p.set_defaults(func=cmd_demo)

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
    p.add_argument("--tenant", default=None)
    p.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("contract", help="the public contract")
    csub = p.add_subparsers(dest="contract_command", required=True, metavar="SUBCOMMAND")
    e = csub.add_parser("export", help="write JSON Schemas of every event and the AsyncAPI document")
    e.add_argument("directory")
    e.set_defaults(func=cmd_contract_export)

    p = sub.add_parser("reporting", help="reporting service maintenance")
    rsub = p.add_subparsers(dest="reporting_command", required=True, metavar="SUBCOMMAND")
    r = rsub.add_parser("rebuild", help="rebuild projections from the event store, with progress")
    r.add_argument("--projection", default=None)
    r.set_defaults(func=cmd_reporting_rebuild)
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
