"""The workforce store contract: one set of tests for the workforce repositories and unit of
work, run against the in-memory fake (tests/unit/test_workforce_store_fake.py) and against
PostgreSQL (tests/integration/test_workforce_store.py), so the fake the handler tests trust
cannot drift from the SQL. A subclass gives `make_uow()` and `published(uow)`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.workforce.domain.staff import Caseload, Post, Vacancy, Worker
from services.workforce.domain.surveys import AnswerType, next_version, validate_response
from shared.events import Contract, LeavingReason, StaffRole

NOW = datetime(2022, 9, 30, 11, 0, tzinfo=UTC)
POST = Post("through-care", "childrens_social_care", StaffRole.SOCIAL_WORKER, Contract.AGENCY, 0.8, True)


class WorkforceStoreContract:
    async def make_uow(self) -> Any:
        raise NotImplementedError

    async def published(self, uow: Any) -> list[str]:
        raise NotImplementedError

    async def test_a_worker_round_trips_in_and_out_of_post(self) -> None:
        uow = await self.make_uow()
        worker, _ = Worker("k1:00000000000000aa").join(POST, datetime(2022, 4, 4, 8, tzinfo=UTC))
        async with uow:
            assert await uow.workers.get(worker.worker_id) is None
            await uow.workers.save(worker, kind="joined", by="tester")
        async with uow:
            assert await uow.workers.get(worker.worker_id, for_update=True) == worker
            assert [w.worker_id for w in await uow.workers.in_post(team="through-care")] == [worker.worker_id]
            assert await uow.workers.in_post(service_area="send") == []
        gone, _ = worker.leave(datetime(2022, 9, 30, 16, tzinfo=UTC), LeavingReason.WORKLOAD)
        async with uow:
            await uow.workers.save(gone, kind="left", by="tester")
        async with uow:
            assert await uow.workers.get(worker.worker_id) == gone
            assert await uow.workers.in_post() == []

    async def test_a_rolled_back_unit_of_work_keeps_nothing(self) -> None:
        uow = await self.make_uow()
        worker, _ = Worker("k1:00000000000000bb").join(POST, datetime(2022, 4, 4, tzinfo=UTC))
        try:
            async with uow:
                await uow.workers.save(worker, kind="joined", by="tester")
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        async with uow:
            assert await uow.workers.get(worker.worker_id) is None

    async def test_vacancies_keep_one_figure_per_team_and_day_and_list_the_latest(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.vacancies.save(Vacancy("x", "send", 2.0, date(2022, 6, 30)), by="t")
            await uow.vacancies.save(Vacancy("x", "send", 1.5, date(2022, 9, 30)), by="t")
            await uow.vacancies.save(Vacancy("x", "send", 1.0, date(2022, 9, 30)), by="t")
            await uow.vacancies.save(Vacancy("y", "fostering", 3.0, date(2022, 7, 1)), by="t")
        async with uow:
            assert await uow.vacancies.get("x", date(2022, 9, 30)) == Vacancy("x", "send", 1.0, date(2022, 9, 30))
            assert [v.vacant_fte for v in await uow.vacancies.latest()] == [1.0, 3.0]
            assert [v.team for v in await uow.vacancies.latest(service_area="fostering")] == ["y"]

    async def test_caseloads_round_trip(self) -> None:
        uow = await self.make_uow()
        worker, _ = Worker("k1:00000000000000cc").join(POST, datetime(2022, 4, 4, tzinfo=UTC))
        async with uow:
            await uow.workers.save(worker, kind="joined", by="t")
            await uow.caseloads.save(Caseload(worker.worker_id, 18, date(2022, 9, 30)), by="t")
        async with uow:
            assert await uow.caseloads.get(worker.worker_id, date(2022, 9, 30)) == Caseload(
                worker.worker_id, 18, date(2022, 9, 30)
            )
            assert await uow.caseloads.get(worker.worker_id, date(2022, 9, 29)) is None

    async def test_survey_versions_and_responses_round_trip(self) -> None:
        uow = await self.make_uow()
        v1 = next_version(
            "contract-hc",
            "Health check",
            [("caseload_ok", "My caseload is manageable", AnswerType.SCALE_1_5)],
            [],
            now=NOW,
        )
        assert v1 is not None
        async with uow:
            await uow.surveys.lock("contract-hc")
            await uow.surveys.add(v1, by="t")
        async with uow:
            assert await uow.surveys.get("contract-hc") == v1
            assert await uow.surveys.history("contract-hc") == [v1]
            assert await uow.surveys.get("contract-hc", 2) is None
        response = validate_response(
            v1,
            response_id="contract-hc:1",
            answers={"caseload_ok": "4"},
            service_area="childrens_social_care",
            team=None,
            received_at=NOW,
            now=NOW,
        )
        async with uow:
            assert await uow.responses.add(response, by="t")
            assert not await uow.responses.add(response, by="t")
        async with uow:
            assert await uow.responses.fingerprints(["contract-hc:1", "nope"]) == {
                "contract-hc:1": response.fingerprint
            }

    async def test_events_are_published_only_on_commit(self) -> None:
        uow = await self.make_uow()
        worker, event = Worker("k1:00000000000000dd").join(POST, datetime(2022, 4, 4, tzinfo=UTC))
        assert event is not None
        async with uow:
            await uow.workers.save(worker, kind="joined", by="t")
            uow.emit(event, aggregate=f"worker:{worker.worker_id}")
        assert (await self.published(uow))[-1:] == ["StaffJoined"]
