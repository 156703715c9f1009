"""The page templates: loaded once per process, never looked up on disk again while serving."""

from __future__ import annotations

import os

import pytest

from ravingfans.config import Settings
from ravingfans.web.templating import build_templates


def test_a_template_is_not_checked_on_disk_at_every_render(monkeypatch: pytest.MonkeyPatch) -> None:
    env = build_templates(Settings(_env_file=None)).env
    env.get_template("base.html")  # the first load reads the file
    looked: list[str] = []
    real = os.path.getmtime

    def getmtime(path: str) -> float:
        looked.append(path)
        return real(path)

    monkeypatch.setattr(os.path, "getmtime", getmtime)
    for _ in range(3):
        env.get_template("base.html")
    assert looked == []
