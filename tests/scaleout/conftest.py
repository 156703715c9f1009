"""One local SparkSession per test worker, or a skip that says why (a failure when CI requires Spark)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

REQUIRED = os.environ.get("RAVINGFANS_REQUIRE_SPARK") == "1"


def _missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'ravingfans[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime (Spark needs Java 17+: no JAVA_HOME, no java on PATH)"
    return None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local-mode session on two cores, shared by every Spark test of this worker (startup takes seconds)."""
    reason = _missing()
    if reason:
        if REQUIRED:
            pytest.fail(f"RAVINGFANS_REQUIRE_SPARK=1 but {reason}", pytrace=False)
        pytest.skip(f"Spark tests skipped: {reason}")
    from ravingfans.scaleout import local_session

    session = local_session(cores=2, memory="1g")
    yield session
    session.stop()
