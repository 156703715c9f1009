"""Pages for #6: filled in by its builder."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
