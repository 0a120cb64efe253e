"""The notifier's pure rules: who is told, when a transition is not news, the words of a
message and of a digest — and that nothing from an event but ids, dates and the team ever
reaches a message."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.notifier.commands import ImportRecipients
from services.notifier.domain import (
    Chase,
    Contact,
    FollowUp,
    Notice,
    Outcome,
    Policy,
    Recipient,
    Transition,
    compose,
    compose_digest,
    digest_lines,
    rule_in_words,
)
from shared.errors import Invalid
from shared.events import ActionRaised, FollowUpOpened, LearningOrigin

DUE = date(2022, 10, 3)
POLICY = Policy("https://qa.council.example/", late_days=14)
ACTION = FollowUp("action:act-1", "action", "complaint", "act-1", "through-care", "fostering", DUE)
OWNER = Recipient("owner@council.example", "owner", "immediate")
MANAGER = Recipient("tc@council.example", "team-manager", "immediate")


def chase(transition: Transition = Transition.DUE, *, published: date = DUE, overdue: int = 0) -> Chase:
    return Chase("action:act-1", transition, DUE, published, overdue)


# --------------------------------------------------------------------------- who and when


def test_an_action_followup_tells_the_owner_and_the_team_manager_once_each() -> None:
    assert ACTION.action_id == "act-1"
    assert FollowUp("re-audit:a1", "re-audit", "audit", "a1", "t").action_id is None
    assert FollowUp("x", "complaint-learning", "action", "act-9", "t").action_id == "act-9"  # origin an action
    owner, manager = Contact("owner@council.example"), Contact("tc@council.example", "daily")
    assert POLICY.recipients(owner, manager) == [OWNER, Recipient("tc@council.example", "team-manager", "daily")]
    assert POLICY.recipients(owner, Contact("owner@council.example")) == [OWNER]  # one address, one e-mail
    assert POLICY.recipients(None, None) == []
    daily = Policy("https://x", default_delivery="daily")
    assert daily.recipients(owner, None) == [Recipient("owner@council.example", "owner", "daily")]


def test_screen_holds_unknown_followups_skips_closed_and_late_ones() -> None:
    assert POLICY.screen(None, chase()) is Outcome.HELD
    assert POLICY.screen(FollowUp("action:act-1", closed_on=DUE), chase()) is Outcome.CLOSED  # closed before opened
    assert POLICY.screen(ACTION, chase()) is None
    assert POLICY.screen(ACTION, chase(Transition.OVERDUE, published=date(2022, 10, 16), overdue=13)) is None
    assert POLICY.screen(ACTION, chase(Transition.OVERDUE, published=date(2022, 10, 17), overdue=14)) is Outcome.LATE
    assert POLICY.screen(ACTION.closed(date(2022, 10, 2)), chase()) is Outcome.CLOSED


def test_opened_and_closed_keep_what_the_notifier_needs() -> None:
    opened = FollowUpOpened(
        followup_id="action:act-1",
        rule="action",
        origin="complaint",
        origin_id="act-1",
        team="through-care",
        service_area="fostering",
        due_date=DUE,
    )
    assert FollowUp("action:act-1").opened(opened) == ACTION
    assert ACTION.closed(date(2022, 10, 5)).closed(date(2022, 10, 9)).closed_on == date(2022, 10, 5)
    assert FollowUp("action:act-1", closed_on=date(2022, 10, 5)).opened(opened).closed_on == date(2022, 10, 5)


# --------------------------------------------------------------------------- words


def test_a_due_message_says_rule_team_due_date_and_links_to_the_followup() -> None:
    message = compose(ACTION, chase(), OWNER, link=POLICY.link("action:act-1"), today=DUE)
    assert message.to == "owner@council.example"
    assert message.subject == (
        "Follow-up due today (through-care): an action raised to put something right is due to be completed"
    )
    assert "A follow-up for the through-care team is due today" in message.body
    assert "Due date: 3 October 2022" in message.body
    assert "Open the follow-up: https://qa.council.example/?followup=action%3Aact-1" in message.body
    assert "You are told as the owner of the action." in message.body
    manager = compose(ACTION, chase(), MANAGER, link="L", today=DUE)
    assert "You are told as the manager of the through-care team." in manager.body


def test_an_overdue_message_counts_the_days_overdue_on_the_day_it_is_sent() -> None:
    overdue = chase(Transition.OVERDUE, published=date(2022, 10, 4), overdue=1)
    assert "Status: 1 day overdue" in compose(ACTION, overdue, OWNER, link="L", today=date(2022, 10, 4)).body
    late = compose(ACTION, overdue, OWNER, link="L", today=date(2022, 10, 6))
    assert late.subject.startswith("Follow-up 3 days overdue (through-care)")
    assert "Due date: 3 October 2022" in late.body


def test_every_rule_is_said_in_plain_words() -> None:
    for rule in (
        "action",
        "complaint-learning",
        "re-audit",
        "concern-targeted-audit",
        "feedback-response",
        "safeguarding-alert",
    ):
        assert rule_in_words(rule) != f"follow-up rule '{rule}'" and rule_in_words(rule).count(" ") >= 5
    assert rule_in_words("new-rule") == "follow-up rule 'new-rule'"


def test_no_event_text_but_ids_dates_and_the_team_reaches_a_message() -> None:
    """Every free-text field of the events the notifier reads (an action's summary, its
    origin, service area, owner id) is given a marker value; none of them may appear in a
    message or a digest, while the team, the due date and the follow-up link do."""
    raised = ActionRaised(
        action_id="act-1",
        origin=LearningOrigin.COMPLAINT,
        origin_id="SECRET-ORIGIN-complaint-77",
        team="through-care",
        service_area="fostering",
        owner_id="SECRET-OWNER-jane-smith",
        raised_at=datetime(2022, 9, 1, tzinfo=UTC),
        due_date=DUE,
        summary="SECRET-SUMMARY Jo Bloggs (DOB 01/02/2015) case 123456 needs a visit",
        subject="case:k1:0123456789abcdef",
    )
    opened = FollowUpOpened(
        followup_id="action:act-1",
        rule="action",
        origin="SECRET-ORIGIN-complaint",
        origin_id=raised.action_id,
        team=raised.team,
        service_area="SECRET-AREA",
        due_date=raised.due_date,
        note="SECRET-EXTRA a field reporting may add",
    )
    followup = FollowUp("action:act-1").opened(opened)
    messages = [
        compose(followup, chase(transition, overdue=2), recipient, link=POLICY.link(opened.followup_id), today=DUE)
        for transition in (Transition.DUE, Transition.OVERDUE)
        for recipient in (OWNER, MANAGER)
    ]
    notice = Notice.of(chase(), Outcome.QUEUED, recipient=OWNER)
    lines = digest_lines([notice], {followup.followup_id: followup})
    messages.append(compose_digest(OWNER.address, lines, policy=POLICY, day=DUE))
    for message in messages:
        text = f"{message.subject}\n{message.body}"
        assert "SECRET" not in text and "0123456789abcdef" not in text and "123456" not in text
        assert "through-care" in text and "3 October 2022" in text
        assert "/?followup=action%3Aact-1" in text


# --------------------------------------------------------------------------- digests


def test_a_digest_has_one_line_per_open_followup_latest_transition_oldest_due_first() -> None:
    other = FollowUp("re-audit:a1", "re-audit", "audit", "a1", "safeguarding", "send", date(2022, 9, 1))
    closed = FollowUp("action:act-2", "action", "audit", "act-2", "t", "send", DUE, closed_on=DUE)
    notices = [
        Notice.of(chase(), Outcome.QUEUED, recipient=MANAGER),
        Notice.of(chase(Transition.OVERDUE, overdue=1), Outcome.QUEUED, recipient=MANAGER),
        Notice.of(Chase("re-audit:a1", Transition.DUE, date(2022, 9, 1), date(2022, 9, 1)), Outcome.QUEUED),
        Notice.of(Chase("action:act-2", Transition.DUE, DUE, DUE), Outcome.QUEUED),
        Notice.of(Chase("unknown", Transition.DUE, DUE, DUE), Outcome.QUEUED),
    ]
    lines = digest_lines(notices, {f.followup_id: f for f in (ACTION, other, closed)})
    assert [(line.followup.followup_id, line.chase.transition) for line in lines] == [
        ("re-audit:a1", Transition.DUE),
        ("action:act-1", Transition.OVERDUE),
    ]
    message = compose_digest(MANAGER.address, lines, policy=POLICY, day=date(2022, 10, 5))
    assert message.subject == "qaloop follow-ups for 5 October 2022: 2 to chase"
    assert "2 follow-ups need attention (5 October 2022):" in message.body
    assert "— the through-care team — due 3 October 2022 — 2 days overdue" in message.body
    assert "— the safeguarding team — due 1 September 2022 — due on 1 September 2022" in message.body
    assert message.body.index("re-audit%3Aa1") < message.body.index("action%3Aact-1")


# --------------------------------------------------------------------------- the directory


def test_the_directory_csv_reads_staff_and_team_rows_with_an_optional_delivery() -> None:
    cmd = ImportRecipients.from_csv(
        "\ufeffkind,id,email,delivery\n"
        "staff,manager-1, alex@council.example ,\n"
        "team,through-care,tc@council.example,daily\n"
    )
    assert [(e.kind, e.id, e.email, e.delivery) for e in cmd.entries] == [
        ("staff", "manager-1", "alex@council.example", None),
        ("team", "through-care", "tc@council.example", "daily"),
    ]
    assert len(ImportRecipients.from_csv("kind,id,email\nstaff,s1,s1@council.example\n").entries) == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("kind,id\nstaff,s1\n", "missing column(s): email"),
        ("kind,id,email\nboss,s1,s1@council.example\n", "line 2.kind"),
        ("kind,id,email\nstaff,s1,not-an-address\n", "not an e-mail address"),
        ("kind,id,email,delivery\nstaff,s1,s1@council.example,hourly\n", "line 2.delivery"),
        ("kind,id,email\nstaff,s1,a@council.example\nstaff,s1,b@council.example\n", "listed twice"),
    ],
)
def test_a_bad_directory_is_refused_naming_the_line_and_field(text: str, problem: str) -> None:
    with pytest.raises(Invalid) as refused:
        ImportRecipients.from_csv(text)
    assert problem in "; ".join(p.describe() for p in refused.value.problems)
