"""The quarterly QA report: `GET /v1/reports/quarterly` and `qaloop report` (issue 7)."""

from fastapi import APIRouter

router = APIRouter(tags=["report"])
