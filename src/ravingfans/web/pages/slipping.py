"""Slipping fans page: the current run's slipping fans by value at risk, with one-click call and note forms."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
