"""Compliments: internal (colleagues, partners) and external (children, families, people
outside the service) are both kept and published. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.feedback.commands import RecordCompliment
from services.feedback.domain import fingerprint
from shared.events import ComplimentOrigin, ComplimentReceived
from shared.text import occurred_at


@dataclass(frozen=True)
class Compliment:
    compliment_id: str
    origin: ComplimentOrigin
    service_area: str
    team: str
    received_at: datetime
    summary: str | None
    summary_shareable: bool = False  # its giver agreed that the summary may be shared

    @property
    def fingerprint(self) -> str:
        content: dict[str, object] = {
            "origin": self.origin.value,
            "service_area": self.service_area,
            "team": self.team,
            "received_at": self.received_at.astimezone(UTC).isoformat(),
            "summary": self.summary,
        }
        if self.summary_shareable:  # only when agreed: compliments recorded before keep their fingerprint
            content["summary_shareable"] = True
        return fingerprint(content)

    def received_event(self) -> ComplimentReceived:
        return ComplimentReceived(
            compliment_id=self.compliment_id,
            service_area=self.service_area,
            team=self.team,
            origin=self.origin,
            received_at=self.received_at,
            summary=self.summary,
            summary_shareable=self.summary_shareable,
        )


def validate_compliment(cmd: RecordCompliment, *, compliment_id: str, now: datetime) -> Compliment:
    """A compliment as recorded; one received in the future is Invalid."""
    return Compliment(
        compliment_id=compliment_id,
        origin=cmd.origin,
        service_area=cmd.service_area,
        team=cmd.team,
        received_at=occurred_at(cmd.received_at, now, "received_at"),
        summary=cmd.summary,
        summary_shareable=cmd.summary_shareable,
    )
