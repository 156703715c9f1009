"""Schemathesis against the app's own /openapi.json: generated requests, valid and invalid, never meet a server error.

Runs in-process over the ASGI app with an owner's token, from fixed seeds (Hypothesis ``derandomize``),
so a run is repeatable. Every answer must also keep to the document: documented status codes, content
types and headers, and bodies matching their schemas (problem details for every error).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ravingfans.db import Database
from apihelp import bearer, issue_token, seed_scores

EXAMPLES = 15  # per operation and mode: ~19 operations x 2 modes stays well under a minute
CONFIG = SchemathesisConfig.from_dict({"seed": 20240501, "generation": {"mode": "all", "deterministic": True}})
# No 5xx, and every answer as documented. (Not "schema-valid input is accepted": the API also refuses,
# with a 422 naming the field, what a JSON schema cannot say: control characters, unknown ids, ...)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.mark.schemathesis
def test_api_meets_no_server_error_and_keeps_to_its_document(api_app: FastAPI, db: Database, shop: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app, config=CONFIG)
    headers = bearer(issue_token(db, "owner", "fuzz-owner@shoe.example"))
    seed_scores(db, [shop.ada, shop.grace, shop.anna])  # so the scores have rows to show
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19  # every resource's operations are in the document
    failures: list[str] = []
    for operation in operations:
        for mode in GenerationMode:

            @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                call()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - gather every failure, report them all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
