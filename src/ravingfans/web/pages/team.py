"""Team page: each employee and what they handled over a period."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
