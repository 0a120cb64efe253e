""" "You said, we did": what children and families said about a theme of a service area, and
what the service changed — published, so its text has no contact details. A theme is also
where an action can be raised that such an item will report. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.feedback.commands import PublishYouSaidWeDid
from services.feedback.domain import LABEL, fingerprint
from shared.actions.domain import ActionOrigin
from shared.errors import Invalid, Problem
from shared.events import LearningOrigin, YouSaidWeDidPublished, known_service_areas
from shared.text import occurred_at


@dataclass(frozen=True)
class YouSaidWeDid:
    item_id: str
    service_area: str
    theme: str
    you_said: str
    we_did: str
    feedback_ids: tuple[str, ...]
    action_id: str | None
    published_at: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            {
                "service_area": self.service_area,
                "theme": self.theme,
                "you_said": self.you_said,
                "we_did": self.we_did,
                "feedback_ids": sorted(self.feedback_ids),
                "action_id": self.action_id,
            }
        )

    def published_event(self) -> YouSaidWeDidPublished:
        return YouSaidWeDidPublished(
            item_id=self.item_id,
            service_area=self.service_area,
            theme=self.theme,
            you_said=self.you_said,
            we_did=self.we_did,
            feedback_ids=list(self.feedback_ids),
            action_id=self.action_id,
            published_at=self.published_at,
        )


def validate_you_said_we_did(
    cmd: PublishYouSaidWeDid, *, item_id: str, linked_areas: Mapping[str, str], now: datetime
) -> YouSaidWeDid:
    """`linked_areas`: the service area of each linked response that exists. The responses
    it answers must exist and be about its service area; Invalid lists every problem."""
    problems = []
    for i, fid in enumerate(cmd.feedback_ids):
        area = linked_areas.get(fid)
        if area is None:
            problems.append(Problem(("feedback_ids", i), f"no survey response {fid!r}"))
        elif area != cmd.service_area:
            problems.append(Problem(("feedback_ids", i), f"response {fid!r} is about {area}, not {cmd.service_area}"))
    published_at = now
    try:
        published_at = occurred_at(cmd.published_at, now, "published_at")
    except Invalid as exc:
        problems.extend(exc.problems)
    if problems:
        raise Invalid.of(problems)
    return YouSaidWeDid(
        item_id=item_id,
        service_area=cmd.service_area,
        theme=cmd.theme,
        you_said=cmd.you_said,
        we_did=cmd.we_did,
        feedback_ids=tuple(cmd.feedback_ids),
        action_id=cmd.action_id,
        published_at=published_at,
    )


def theme_origin(service_area: str, theme: str) -> ActionOrigin:
    """A service area's theme as the origin of an action (origin_id `<service_area>:<theme>`):
    usually a question's `reported_as` id, as in "you said, we did" items. It has no team of
    its own: the action names one."""
    problems = []
    if service_area not in known_service_areas():
        reason = f"unknown service_area {service_area!r}; expected one of {sorted(known_service_areas())}"
        problems.append(Problem(("service_area",), reason))
    if not LABEL.match(theme):
        problems.append(Problem(("theme",), "may hold only letters, digits and _ . - (at most 100)"))
    if problems:
        raise Invalid.of(problems)
    return ActionOrigin(
        origin=LearningOrigin.FEEDBACK,
        origin_id=f"{service_area}:{theme}",
        service_area=service_area,
        team=None,
        describes="theme",
    )
