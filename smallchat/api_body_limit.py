"""A cap on the size of request bodies: a huge upload is refused, not read into memory.

The largest body the API needs is a chat request with the longest message allowed
(MAX_MESSAGE_CHARS) written in JSON's longest form, every character an escaped surrogate
pair (``\\ud83d\\ude00``, 12 bytes), plus a little room for the other fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smallchat.api_schemas import ErrorOut

BYTES_PER_CHARACTER_AT_MOST = 12
ROOM_FOR_OTHER_FIELDS = 16 * 1024
CODE = "body_too_large"


def body_limit_bytes(max_message_chars: int) -> int:
    return max_message_chars * BYTES_PER_CHARACTER_AT_MOST + ROOM_FOR_OTHER_FIELDS


def too_large_detail(limit: int) -> str:
    return f"The request body is too large: the limit is {limit:,} bytes (room for a message of MAX_MESSAGE_CHARS)."


class BodySizeLimit:
    """ASGI middleware: 413 for a body over ``limit()`` bytes, from its Content-Length or while it arrives.

    ``limit()`` is None while the settings are not read yet: no cap then.
    """

    def __init__(self, app: ASGIApp, limit: Callable[[], int | None]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit() if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > limit:
            body = ErrorOut(detail=too_large_detail(limit), code=CODE)
            await JSONResponse(body.model_dump(mode="json"), status_code=413)(scope, receive, send)
            return
        received = 0

        async def receive_up_to_the_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised into the endpoint's body reading; the app's handler answers it.
                    raise HTTPException(413, too_large_detail(limit))
            return message

        await self.app(scope, receive_up_to_the_limit, send)


def _declared_length(scope: dict[str, Any]) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # not a number: the server refuses it, or the count while reading applies
    return 0
