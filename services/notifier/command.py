"""`qaloop notifier …`: load a tenant's recipient directory, send the day's digests. Each runs
the notifier's use cases on its database directly (migrations applied first); neither needs
the broker or a running notifier."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from services.notifier import handlers
from services.notifier.app import NotifierService, build
from services.notifier.commands import ImportRecipients
from shared.calendar import LONDON


async def _started() -> NotifierService:
    service, _ = build(consume=False, send_digests=False)
    await service.start()
    return service


async def import_recipients(cmd: ImportRecipients, tenant: str | None) -> tuple[str, int]:
    """Replace the tenant's directory with the imported one."""
    service = await _started()
    try:
        chosen = tenant or service.settings.tenant
        return chosen, await handlers.import_recipients(service.unit_of_work(), chosen, cmd)
    finally:
        await service.stop()


async def send_digests(day: date | None) -> list[handlers.DigestSent]:
    """Send the digests of `day` (default: today in London) that are not sent yet."""
    service = await _started()
    try:
        assert service.mailer is not None
        today = day or datetime.now(UTC).astimezone(LONDON).date()
        return await handlers.send_digests(service.unit_of_work(), today, mailer=service.mailer, policy=service.policy)
    finally:
        await service.stop()


def run_import(path: str, tenant: str | None) -> int:
    from shared.errors import Invalid

    try:
        cmd = ImportRecipients.from_csv(Path(path).read_text(encoding="utf-8-sig"))
        chosen, count = asyncio.run(import_recipients(cmd, tenant))
    except Invalid as exc:
        for problem in exc.problems:
            print(f"qaloop notifier: {path}: {problem.describe()}")
        return 1
    print(f"tenant {chosen}: the directory now has {count} entr{'y' if count == 1 else 'ies'}")
    return 0


def run_digest(day: str | None) -> int:
    sent = asyncio.run(send_digests(date.fromisoformat(day) if day else None))
    for digest in sent:
        if digest.unavailable:
            what = f"failed for now (still queued): {digest.unavailable}"
        else:
            what = f"refused: {digest.refused}" if digest.refused else f"{digest.items} follow-up(s)"
        print(f"{digest.tenant} {digest.address}: {what}")
    print(f"{sum(1 for d in sent if not d.unavailable)} digest(s) sent")
    return 1 if any(d.refused or d.unavailable for d in sent) else 0
