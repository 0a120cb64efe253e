"""The dashboard served by reporting at `/` (issue 7)."""

from fastapi import APIRouter

router = APIRouter(tags=["dashboard"])
