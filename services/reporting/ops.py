"""Operations endpoints (role ops:admin): queues, dead letters, lag (issue 8)."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1/ops", tags=["operations"])
