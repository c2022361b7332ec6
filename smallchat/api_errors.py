"""How the REST API reports errors: one JSON shape, the chat page's words, documented codes.

The core raises ``smallchat.errors`` types whose text is meant for people and whose
``http_status`` says what went wrong; the handlers here turn them into responses. Request
validation (pydantic) and FastAPI's own HTTP errors get the same shape; anything unexpected
becomes a generic 500 whose details go to the server log only.
"""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from smallchat.api_body_limit import CODE as BODY_TOO_LARGE
from smallchat.api_schemas import (
    ErrorOut,
    FieldErrorOut,
    MessageOut,
    ProviderErrorOut,
    StreamErrorOut,
    ValidationErrorOut,
    error_code,
)
from smallchat.errors import RateLimited, SmallChatError
from smallchat.repository import MessageRecord

logger = logging.getLogger("smallchat.api")

UNREADABLE_BODY = "the body could not be read as JSON (not UTF-8, or nested too deeply)"
INTERNAL_ERROR = "Something went wrong on the server. The error was logged; try again."

ERRORS_DESCRIPTION = """
**Errors** are `{"detail": "...", "code": "..."}`: `detail` is the text the chat page shows,
`code` is for scripts. Provider errors keep the provider's meaning:

| status | code | when |
|---|---|---|
| 401 | `unauthorized` | `API_TOKEN` is set and the request's bearer token is missing or wrong |
| 401 | `invalid_api_key` | the provider rejected SmallChat's API key, or none is configured |
| 402 | `budget_exceeded` | the forecast takes a budget over its limit: raise it, or send with `confirm_over_budget` |
| 403 | `permission_denied` | the provider's key may not use this model |
| 404 | `session_not_found` | no such session (never was, or deleted) |
| 404 | `model_not_found` | the provider does not know the model |
| 413 | `request_too_large` | the provider refused the request's size |
| 413 | `context_too_long` | the conversation no longer fits the model's context window |
| 413 | `body_too_large` | the request body is larger than a chat request with the longest message allowed |
| 422 | `invalid_input` | empty, blank or too long message; malformed session id |
| 422 | `invalid_request` | unknown or missing fields or parameters, a body that is not JSON |
| 429 | `rate_limited` | the provider is rate limiting (after the configured retries) |
| 502 | `provider_error` | the provider refused the request for another reason |
| 503 | `provider_unavailable` | the provider failed (a 5xx of its own) |
| 503 | `provider_unreachable` | the provider cannot be reached |
| 503 | `storage_error` | the database cannot be used |
| 504 | `provider_timeout` | the provider did not answer in time (`AI_TIMEOUT_SECONDS`) |

When the provider fails after your message is saved, the message stays in the history. When it
fails after part of the reply arrived, that part is saved (flagged incomplete, with its cost) and
the error carries it as `partial_reply`.
"""

# One typical body per status for the docs (ERRORS_DESCRIPTION lists every code).
ERROR_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {"detail": "This API needs a token: send 'Authorization: Bearer <API_TOKEN>'.", "code": "unauthorized"},
    402: {
        "detail": "Not sent: this message is forecast at $0.0006018, which would take this chat's budget over "
        "its limit ($0.0005 of $0.001 spent). Raise the budget, or confirm to send it anyway.",
        "code": "budget_exceeded",
    },
    403: {
        "detail": "The API key is not allowed to use this model or endpoint (403).",
        "code": "permission_denied",
    },
    404: {"detail": "This chat session does not exist: it may have been deleted.", "code": "session_not_found"},
    413: {
        "detail": "This conversation is now too long for the model's context window. Start a new chat, "
        "or reset this one, to continue.",
        "code": "context_too_long",
    },
    422: {"detail": "The message is empty. Type something to send.", "code": "invalid_input", "errors": []},
    429: {
        "detail": "The AI provider is rate limiting requests (429). Wait a moment, then retry.",
        "code": "rate_limited",
    },
    502: {"detail": "The AI provider refused the request (400).", "code": "provider_error"},
    503: {"detail": "The AI provider had a server error (500). Try again in a moment.", "code": "provider_unavailable"},
    504: {
        "detail": "The AI provider did not answer in time. Try again; if it keeps happening, raise AI_TIMEOUT_SECONDS.",
        "code": "provider_timeout",
    },
}


# A provider that fails after part of a reply arrived: a stream cut or refused (502), a server
# failing or gone (503), a stall (504). The part is saved and the error carries it.
PARTIAL_REPLY_STATUSES = (502, 503, 504)


def documented_errors(*statuses: int, partial_reply: bool = False) -> dict[int | str, dict[str, Any]]:
    """The error responses of an operation; with ``partial_reply``, those that may carry one."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model: Any = ValidationErrorOut if status == 422 else ErrorOut
        description = HTTPStatus(status).phrase
        if partial_reply and status in PARTIAL_REPLY_STATUSES:
            model = ErrorOut | ProviderErrorOut
            description += "; with `partial_reply` when part of the reply arrived (saved, incomplete)"
        documented[status] = {
            "model": model,
            "description": description,
            "content": {"application/json": {"example": ERROR_EXAMPLES[status]}},
        }
    return documented


def stream_error(error: SmallChatError) -> StreamErrorOut:
    return StreamErrorOut(detail=str(error), code=error_code(error), status=error.http_status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SmallChatError, _on_smallchat_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)


def _error_response(
    status: int, detail: str, code: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    # Every 422 has the same shape (with ``errors``), whether pydantic or the core refused the input.
    body = ErrorOut(detail=detail, code=code)
    if status == 422:
        body = ValidationErrorOut(detail=detail, code=code, **extra)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


async def _on_smallchat_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SmallChatError)
    partial = getattr(error, "partial_reply", None)
    if isinstance(partial, MessageRecord):
        # Part of the reply arrived, was saved and costs money: say so, with the numbers.
        body = ProviderErrorOut(
            detail=str(error), code=error_code(error), partial_reply=MessageOut.from_record(partial)
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=error.http_status)
    headers = None
    if isinstance(error, RateLimited) and error.retry_after_seconds is not None:
        # Passed on, so that a client's own retry logic waits as long as the provider asked.
        headers = {"Retry-After": str(math.ceil(error.retry_after_seconds))}
    return _error_response(error.http_status, str(error), error_code(error), headers=headers)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [_field_error(problem) for problem in error.errors()]
    summary = "; ".join(f"{problem.field}: {problem.message}" for problem in problems)
    return _error_response(422, f"The request is not valid: {summary}.", "invalid_request", errors=problems)


def _field_error(problem: dict[str, Any]) -> FieldErrorOut:
    # Never echo the input back: it may be a 100,000-character message.
    location = [str(part) for part in problem.get("loc", ())]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:] or location
    kind = problem.get("type", "")
    # A JSON syntax error's location is a character offset, which names no field.
    field = "body" if kind == "json_invalid" else ".".join(location) or "body"
    message = {
        "extra_forbidden": "unknown parameter" if problem.get("loc", ("",))[0] == "query" else "unknown field",
        "missing": "required",
        "json_invalid": "the body is not valid JSON",
        # A body that is JSON but not an object, or sent as another content type (a form, text).
        "model_attributes_type": "the body must be a JSON object, sent with Content-Type: application/json",
    }.get(kind, str(problem.get("msg", "invalid")))
    return FieldErrorOut(field=field, message=message)


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if error.status_code == 400:
        # FastAPI's answer to a body it could not decode (not UTF-8, or nested deeper than the
        # parser goes): invalid JSON like any other, so it gets the same 422 as a syntax error.
        problem = FieldErrorOut(
            field="body", message="the body could not be read as JSON (not UTF-8, or nested too deeply)"
        )
        detail = f"The request is not valid: {problem.message}."
        return _error_response(422, detail, "invalid_request", errors=[problem])
    if error.status_code == 413:
        return _error_response(413, str(error.detail), BODY_TOO_LARGE)
    code = HTTPStatus(error.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    return _error_response(error.status_code, str(error.detail), code, headers=error.headers)


async def _on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # The traceback goes to the server log only; the client gets no internals.
    logger.error("Unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return _error_response(500, INTERNAL_ERROR, "internal_error")
