"""Schemathesis against the API's own OpenAPI schema: no generated request makes the server fail.

Each operation gets requests generated from its schema, valid ones (positive) and invalid ones
(negative), sent in-process to the app with the fake provider behind it. Every response is
checked by schemathesis's default checks: no 5xx, status codes, content types and bodies as
documented, invalid input refused, valid input accepted, the bearer token enforced.
The number of examples is bounded (and derandomized) so the run is quick and repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.python.asgi import shutdown_lifespans

from smallchat.api import create_app
from smallchat.config import Settings
from tests.fake_provider import FakeProvider

pytestmark = pytest.mark.schema

API_TOKEN = "schema-test-token"
EXAMPLES_PER_OPERATION = 30
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
OPERATIONS = [
    # /health takes no input at all and needs no token: there is no invalid request to make.
    ("GET", "/health", [POSITIVE]),
    ("GET", "/new_session", [POSITIVE, NEGATIVE]),
    ("POST", "/sessions", [POSITIVE, NEGATIVE]),
    ("GET", "/sessions", [POSITIVE, NEGATIVE]),
    ("POST", "/sessions/{session_id}/chat", [POSITIVE, NEGATIVE]),
    ("POST", "/sessions/{session_id}/retry", [POSITIVE, NEGATIVE]),
    ("GET", "/sessions/{session_id}/history", [POSITIVE, NEGATIVE]),
    ("POST", "/sessions/{session_id}/reset", [POSITIVE, NEGATIVE]),
    ("DELETE", "/sessions/{session_id}", [POSITIVE, NEGATIVE]),
]
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path, modes in OPERATIONS
    for mode in modes
]


@pytest.fixture
def api_schema(settings: Settings, provider: FakeProvider) -> Iterator[schemathesis.BaseSchema]:
    app = create_app(Settings(**{**settings.__dict__, "api_token": API_TOKEN}))
    # Schemathesis sends the token the schema's security scheme asks for; its ignored_auth check
    # also sends requests without it and expects 401.
    config = schemathesis.Config.from_dict({"auth": {"openapi": {"HTTPBearer": {"bearer": API_TOKEN}}}})
    yield schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    # Schemathesis keeps each app it started running until the process exits; this one's
    # database is about to be deleted.
    shutdown_lifespans()


def test_every_operation_of_the_schema_is_covered(api_schema: schemathesis.BaseSchema) -> None:
    in_schema = {(method.upper(), path) for path, item in api_schema.raw_schema["paths"].items() for method in item}
    assert in_schema == {(method, path) for method, path, _ in OPERATIONS}


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_generated_requests_never_make_the_api_fail(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: schemathesis.GenerationMode
) -> None:
    @given(case=api_schema[path][method].as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    check()
