"""Feedback through the feedback service's API: survey responses from children, young people
and families, compliments (internal and external) and "you said, we did" items.

* SEND families: "It was easy to contact my case worker" — about half positive in 2022-23
  Q2 (the panel minutes), a little better in Q1, improving in Q3 and Q4 as the
  communication framework takes hold. Below 60% opens reporting's feedback-response
  follow-up, which a "you said, we did" item the next quarter closes.
* "I feel safe where I live" is a safeguarding question: a few children answer "no". Each
  such answer opens reporting's safeguarding-alert follow-up (due the next working day); the
  team manager raises an action on the response the same day and completes it, mostly by the
  next working day, a few late, which closes the follow-up.
* The seeded surveys (send-family-experience, csc-children-young-people and
  foster-carer-experience, version 1: feedback's migrations 002 and 006) are used as they
  are; three more are published at the start (a retry changes nothing). Foster carers answer
  theirs: information before a placement and help out of hours are their weak points.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.simulation.authority import COUNTY, PARTICIPATION_WORKERS, AnnualVolumes, team_manager
from services.simulation.plan import Call, SimulatedYear, Story, team_in, weighted
from shared.calendar import Period, london_date


@dataclass(frozen=True)
class Question:
    question_id: str
    wording: str
    answer_type: str  # yes_no, scale_1_5, free_text
    safeguarding: bool = False


@dataclass(frozen=True)
class Survey:
    survey_id: str
    title: str
    service_area: str
    respondents: tuple[str, ...]
    questions: tuple[Question, ...]
    share: float  # of all responses
    seeded: bool = False  # version 1 is seeded by the feedback service's migrations

    def definition(self) -> dict[str, object]:
        return {
            "title": self.title,
            "service_area": self.service_area,
            "respondents": list(self.respondents),
            "questions": [
                {
                    "question_id": q.question_id,
                    "wording": q.wording,
                    "answer_type": q.answer_type,
                    "safeguarding": q.safeguarding,
                }
                for q in self.questions
            ],
        }


ANYTHING_ELSE = Question("anything_else", "Is there anything else you would like to tell us?", "free_text")
SURVEYS = (
    Survey(
        "send-family-experience",
        "SEND: your experience of our service",
        "send",
        ("parent_carer", "young_person"),
        (
            Question("easy_to_contact_case_worker", "It was easy to contact my case worker", "yes_no"),
            Question("kept_informed", "I was kept informed about what was happening", "scale_1_5"),
            Question(
                "views_reflected_in_plan",
                "The EHC plan reflects what matters to my child and our family",
                "scale_1_5",
            ),
            ANYTHING_ELSE,
        ),
        0.25,
        seeded=True,
    ),
    Survey(
        "csc-children-young-people",
        "Children's social care: what children and young people tell us",
        "childrens_social_care",
        ("child", "young_person"),
        (
            Question("feel_safe_where_i_live", "I feel safe where I live", "yes_no", safeguarding=True),
            Question("worker_listens_to_me", "My social worker listens to me", "scale_1_5"),
            Question("know_how_to_complain", "I know how to complain if I am unhappy", "yes_no"),
            Question("anything_else", "Is there anything else you want to tell us?", "free_text"),
        ),
        0.40,
        seeded=True,
    ),
    Survey(
        "early-help-family-feedback",
        "Early help: what families tell us",
        "early_help",
        ("parent_carer", "young_person"),
        (
            Question("worker_helped_family", "The support made a real difference to our family", "scale_1_5"),
            Question("easy_to_get_help", "It was easy to get help when we needed it", "yes_no"),
            ANYTHING_ELSE,
        ),
        0.20,
    ),
    Survey(
        "fostering-children-in-care",
        "Fostering: what children in care tell us",
        "fostering",
        ("child", "young_person"),
        (
            Question("feel_safe_where_i_live", "I feel safe where I live", "yes_no", safeguarding=True),
            Question("feel_settled_in_my_home", "I feel settled in my foster home", "scale_1_5"),
            Question("know_my_social_worker", "I know who my social worker is", "yes_no"),
        ),
        0.08,
    ),
    Survey(
        "youth-justice-young-people",
        "Youth justice: what young people tell us",
        "youth_justice",
        ("young_person",),
        (
            Question("worker_listens_to_me", "My worker listens to me", "scale_1_5"),
            Question("know_how_to_complain", "I know how to complain if I am unhappy", "yes_no"),
        ),
        0.07,
    ),
    # Last, so that the other surveys' draws stay as they were (one random stream, in order).
    Survey(
        "foster-carer-experience",
        "Fostering: foster carers' experience of our support",
        "fostering",
        ("foster_carer",),
        (
            Question(
                "supervising_social_worker_support",
                "My supervising social worker gives me the support I need",
                "scale_1_5",
            ),
            Question(
                "told_about_child_before_placement",
                "I was told what I needed to know about the child before they came to live with me",
                "yes_no",
            ),
            Question(
                "training_helps_me_care",
                "The training I am offered helps me care for the children I look after",
                "scale_1_5",
            ),
            Question("help_out_of_hours", "I can get help out of hours when I need it", "yes_no"),
            Question("treated_as_part_of_team", "I am treated as part of the team around the child", "scale_1_5"),
            ANYTHING_ELSE,
        ),
        0.06,
        seeded=True,
    ),
)

# Positive share per question and quarter (Q1..Q4): yes for yes/no questions, 4 or 5 on a scale.
POSITIVE: dict[str, tuple[float, float, float, float]] = {
    "easy_to_contact_case_worker": (0.56, 0.50, 0.63, 0.71),
    "kept_informed": (0.6, 0.58, 0.66, 0.72),
    "views_reflected_in_plan": (0.7, 0.7, 0.72, 0.74),
    "feel_safe_where_i_live": (0.975, 0.975, 0.975, 0.975),
    "worker_listens_to_me": (0.8, 0.8, 0.81, 0.82),
    "know_how_to_complain": (0.78, 0.78, 0.8, 0.8),
    "worker_helped_family": (0.78, 0.78, 0.8, 0.8),
    "easy_to_get_help": (0.8, 0.8, 0.8, 0.82),
    "feel_settled_in_my_home": (0.8, 0.8, 0.8, 0.8),
    "know_my_social_worker": (0.9, 0.9, 0.9, 0.9),
    # foster carers (the Fostering Network's "State of the Nation" themes): support is valued,
    # information before a placement and help out of hours are where carers are let down
    "supervising_social_worker_support": (0.76, 0.77, 0.78, 0.8),
    "told_about_child_before_placement": (0.55, 0.57, 0.62, 0.66),
    "training_helps_me_care": (0.74, 0.74, 0.76, 0.76),
    "help_out_of_hours": (0.62, 0.6, 0.64, 0.68),
    "treated_as_part_of_team": (0.66, 0.67, 0.7, 0.72),
}
SKIPPED = 0.04
FREE_TEXT_ANSWERED = 0.15
FREE_TEXT = (
    "Thank you for listening to us.",
    "It took a long time to hear back after I left messages.",
    "Our worker changed three times this year.",
    "The meetings were at times that suited us, which helped.",
)
CHANNELS = {"online": 0.55, "paper": 0.15, "visit": 0.25, "phone": 0.05}

COMPLIMENT_AREAS = {
    "childrens_social_care": 0.45,
    "send": 0.15,
    "fostering": 0.15,
    "early_help": 0.15,
    "youth_justice": 0.1,
}
EXTERNAL = 0.7
EXTERNAL_SUMMARIES = (
    "A parent thanked the worker for always calling back and explaining each step.",
    "A young person said their worker never gave up on them.",
    "A foster carer praised the support at a difficult time.",
    "A family said the help they had turned things around at home.",
    "A grandparent thanked the team for keeping the children together.",
)
INTERNAL_SUMMARIES = (
    "The school praised the quality of the worker's report.",
    "A health visitor thanked the team for clear and timely information sharing.",
    "The independent reviewing officer noted an excellent plan.",
    "The police thanked the team for a swift joint response.",
)

FOLLOW_UP_THRESHOLD = 0.6  # reporting's feedback-response rule: below this, a follow-up opens

# A negative answer to a safeguarding question: an action on the response, raised the same
# day, due the next working day (the safeguarding-alert follow-up's due date).
SAFEGUARDING_ON_TIME = 0.85  # completed by the due date; the others 1-4 working days late
SAFEGUARDING_SAME_DAY = 0.4  # of those on time, completed the day it was raised
SAFEGUARDING_SUMMARY = (
    "Safeguarding follow-up: the social worker sees the child, talks about feeling safe where "
    "they live and reviews the safety plan with the team manager."
)
SAFEGUARDING_EVIDENCE = "Child seen and spoken with alone; safety plan reviewed and recorded on the case file."


def plan_surveys(year: SimulatedYear) -> list[Call]:
    """Publish the surveys the service does not seed (idempotent: a retry changes nothing)."""
    worker = PARTICIPATION_WORKERS[0]
    at = year.at(year.fy.start, year.rng("surveys"))
    return [
        Call(at, "feedback.survey", "feedback", "PUT", f"/v1/surveys/{s.survey_id}", s.definition(), worker, events=0)
        for s in SURVEYS
        if not s.seeded
    ]


@dataclass
class _Response:
    survey: Survey
    at: datetime
    answers: dict[str, str | int]
    respondent: str
    team: str
    channel: str
    response_id: str = ""


def plan_feedback(year: SimulatedYear, volumes: AnnualVolumes = COUNTY) -> list[Story]:
    responses = _responses(year, volumes)
    follow_ups = year.rng("safeguarding-actions")
    stories = []
    for i, r in enumerate(responses):
        worker = PARTICIPATION_WORKERS[i % len(PARTICIPATION_WORKERS)]
        recorded = Call(r.at, "feedback.response", "feedback", "POST", "/v1/responses", _response_body(r), worker)
        stories.append(Story(r.response_id, (recorded, *_safeguarding_action(year, follow_ups, r))))
    stories += _compliments(year, volumes)
    stories += _you_said_we_did(year, responses)
    return stories


def _safeguarding_action(year: SimulatedYear, rng: random.Random, r: _Response) -> tuple[Call, ...]:
    """For a negative answer to a safeguarding question: the team manager raises an action
    on the response the same day (origin_id the response: what closes the safeguarding
    alert), due the next working day, and completes it — mostly on time, a few late."""
    if not any(q.safeguarding and _negative(r.answers.get(q.question_id)) for q in r.survey.questions):
        return ()
    owner = team_manager(r.team)
    action_id = f"{r.response_id}-action"
    raised = year.later(r.at, 0, rng)  # working hours that day, or minutes after a late response
    due = year.working_days_after(r.at, 1)
    if rng.random() < SAFEGUARDING_ON_TIME:
        day = london_date(raised) if rng.random() < SAFEGUARDING_SAME_DAY else due
    else:
        day = year.working_days_after(due, rng.randint(1, 4))
    completed = max(year.at(day, rng), raised + timedelta(minutes=10))
    return (
        Call(
            raised,
            "feedback.action.raise",
            "feedback",
            "POST",
            f"/v1/responses/{r.response_id}/actions",
            {
                "action_id": action_id,
                "owner_id": owner,
                "due_date": due,
                "summary": SAFEGUARDING_SUMMARY,
                "raised_at": raised,
            },
            owner,
        ),
        Call(
            completed,
            "feedback.action.complete",
            "feedback",
            "POST",
            f"/v1/actions/{action_id}/complete",
            {"completed_at": completed, "evidence": SAFEGUARDING_EVIDENCE},
            owner,
        ),
    )


def _response_body(r: _Response) -> dict[str, object]:
    body: dict[str, object] = {
        "response_id": r.response_id,
        "survey_id": r.survey.survey_id,
        "respondent": r.respondent,
        "team": r.team,
        "channel": r.channel,
        "received_at": r.at,
        "answers": r.answers,
    }
    if r.survey.seeded:
        body["survey_version"] = 1  # the seeded wording, whatever versions came later
    return body


def _quarters(year: SimulatedYear) -> list[list[Period]]:
    return [year.months[i : i + 3] for i in range(0, 12, 3)]


def _responses(year: SimulatedYear, volumes: AnnualVolumes) -> list[_Response]:
    rng = year.rng("survey-responses")
    out: list[_Response] = []
    for survey in SURVEYS:
        monthly = year.per_month(round(volumes.survey_responses * survey.share))
        for q, months in enumerate(_quarters(year)):
            times = []
            for i, month in enumerate(months):
                days = year.days(month)
                times += [year.at(rng.choice(days), rng, 8, 21) for _ in range(monthly[3 * q + i])]
            times.sort()
            answers = _answers(rng, survey, len(times), q)
            for when, given in zip(times, answers, strict=True):
                main = survey.respondents[0]
                respondent = main if rng.random() < 0.7 else rng.choice(survey.respondents)
                out.append(
                    _Response(
                        survey,
                        when,
                        given,
                        respondent,
                        team_in(survey.service_area, rng),
                        weighted(rng, CHANNELS),
                    )
                )
    out.sort(key=lambda r: (r.at, r.survey.survey_id))
    for n, r in enumerate(out, start=1):
        r.response_id = f"{year.prefix}-response-{n:05d}"
    return out


def _answers(rng: random.Random, survey: Survey, n: int, quarter: int) -> list[dict[str, str | int]]:
    """`n` responses' answers. Yes/no answers are dealt from a shuffled pack with the
    quarter's positive share, so that a quarter's rate is what POSITIVE says."""
    columns: dict[str, list[str | int | None]] = {}
    for q in survey.questions:
        if q.answer_type == "free_text":
            columns[q.question_id] = [
                rng.choice(FREE_TEXT) if rng.random() < FREE_TEXT_ANSWERED else None for _ in range(n)
            ]
            continue
        answered = [rng.random() >= SKIPPED for _ in range(n)]
        k = sum(answered)
        positive = POSITIVE[q.question_id][quarter]
        if q.answer_type == "yes_no":
            yes = round(k * positive)
            pack: list[str | int] = [*(["yes"] * yes), *(["no"] * (k - yes))]
            rng.shuffle(pack)
        else:
            pack = [_scale(rng, positive) for _ in range(k)]
        dealt = iter(pack)
        columns[q.question_id] = [next(dealt) if a else None for a in answered]
    out: list[dict[str, str | int]] = []
    for i in range(n):
        given: dict[str, str | int] = {qid: v for qid, col in columns.items() if (v := col[i]) is not None}
        if not any(k != "anything_else" for k in given):  # everything skipped: answer the first
            first = survey.questions[0]
            given[first.question_id] = "yes" if first.answer_type == "yes_no" else 4
        out.append(given)
    return out


def _scale(rng: random.Random, positive: float) -> int:
    if rng.random() < positive:
        return 5 if rng.random() < 0.45 else 4
    return rng.choices((1, 2, 3), (0.2, 0.3, 0.5))[0]


SHARED = 0.6  # external compliments whose giver agrees that the summary may be shared


def agreed_to_share(year: SimulatedYear, compliment_id: str) -> bool:
    """Whether the giver of an external compliment agreed to share its summary ("celebrate
    success"): a draw of its own, so the rest of the year's plan is as it was."""
    return random.Random(f"{year.seed}:share:{compliment_id}").random() < SHARED


def _compliments(year: SimulatedYear, volumes: AnnualVolumes) -> list[Story]:
    rng = year.rng("compliments")
    stories = []
    serial = 0
    for month, count in zip(year.months, year.per_month(volumes.compliments), strict=True):
        days = year.working_days(month)
        for _ in range(count):
            serial += 1
            area = weighted(rng, COMPLIMENT_AREAS)
            external = rng.random() < EXTERNAL
            received = year.at(rng.choice(days), rng)
            compliment_id = f"{year.prefix}-compliment-{serial:04d}"
            body: dict[str, object] = {
                "compliment_id": compliment_id,
                "origin": "external" if external else "internal",
                "service_area": area,
                "team": team_in(area, rng),
                "received_at": received,
                "summary": rng.choice(EXTERNAL_SUMMARIES if external else INTERNAL_SUMMARIES),
            }
            if external and agreed_to_share(year, compliment_id):
                body["summary_shareable"] = True
            call = Call(
                received,
                "feedback.compliment",
                "feedback",
                "POST",
                "/v1/compliments",
                body,
                rng.choice(PARTICIPATION_WORKERS),
            )
            stories.append(Story(compliment_id, (call,)))
    return stories


@dataclass(frozen=True)
class _Item:
    quarter: int  # published in this quarter (0-3)
    service_area: str
    theme: str
    you_said: str
    we_did: str
    about_quarter: int  # links responses from this quarter


YOU_SAID_WE_DID = (
    _Item(
        0,
        "childrens_social_care",
        "worker_listens_to_me",
        "Children told us they want to see their social worker on their own, not only with adults in the room.",
        "Social workers now plan time alone with each child at every visit and record what the child said.",
        0,
    ),
    _Item(
        1,
        "send",
        "easy_to_contact_case_worker",
        "Families told us it was hard to get through to their case worker.",
        "We set up a SEND duty line staffed every working day, so that a call is answered by someone who can help.",
        0,
    ),
    _Item(
        1,
        "early_help",
        "easy_to_get_help",
        "Families said they did not know where to go for help early on.",
        "We published a single front door for early help, with drop-in sessions at family hubs.",
        0,
    ),
    _Item(
        2,
        "send",
        "easy_to_contact_case_worker",
        "Only half of families found it easy to contact their case worker.",
        "We introduced a communication framework: a named case worker, call-backs by the next working day "
        "and written follow-up after every meeting.",
        1,
    ),
    _Item(
        2,
        "childrens_social_care",
        "know_how_to_complain",
        "Some young people did not know how to complain.",
        "Every child in care now gets a short guide to complaints and advocacy, written with the "
        "children in care council.",
        1,
    ),
    _Item(
        2,
        "fostering",
        "feel_settled_in_my_home",
        "Children said moving placement at short notice was unsettling.",
        "Introductions to a new foster home now include a visit and a welcome book before the move.",
        1,
    ),
    _Item(
        3,
        "early_help",
        "worker_helped_family",
        "Families asked for help at times that suit working parents.",
        "Family hubs now offer evening and Saturday sessions.",
        2,
    ),
    _Item(
        3,
        "youth_justice",
        "worker_listens_to_me",
        "Young people said meetings felt like being told off.",
        "Plans are now made with the young person first, in a place they choose.",
        2,
    ),
)


def _you_said_we_did(year: SimulatedYear, responses: list[_Response]) -> list[Story]:
    """A few items a quarter; each links up to three responses of its service area from the
    quarter it answers (negative answers to its theme first) that came before its month."""
    rng = year.rng("you-said-we-did")
    quarters = _quarters(year)
    stories = []
    for n, item in enumerate(YOU_SAID_WE_DID, start=1):
        month = quarters[item.quarter][1]  # published in the quarter's middle month
        published = year.at(rng.choice(year.working_days(month)), rng)
        about = quarters[item.about_quarter]
        linked = [
            r
            for r in responses
            if r.survey.service_area == item.service_area
            and about[0].start <= london_date(r.at) <= about[-1].end
            and london_date(r.at) < month.start
        ]
        linked.sort(key=lambda r: (not _negative(r.answers.get(item.theme)), r.at))
        item_id = f"{year.prefix}-you-said-we-did-{n:02d}"
        body = {
            "item_id": item_id,
            "service_area": item.service_area,
            "theme": item.theme,
            "you_said": item.you_said,
            "we_did": item.we_did,
            "feedback_ids": [r.response_id for r in linked[:3]],
            "published_at": published,
        }
        stories.append(
            Story(
                item_id,
                (
                    Call(
                        published,
                        "feedback.you_said_we_did",
                        "feedback",
                        "POST",
                        "/v1/you-said-we-did",
                        body,
                        PARTICIPATION_WORKERS[0],
                    ),
                ),
            )
        )
    return stories


def _negative(value: str | int | None) -> bool:
    return value == "no" or (isinstance(value, int) and value <= 2)
