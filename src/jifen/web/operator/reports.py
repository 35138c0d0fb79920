"""The operator's reports (built separately)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
