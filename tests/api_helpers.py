"""Talking to the REST API in tests: one chat request, and a server-sent event stream read back."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient


def chat(api: TestClient, session_id: str, message: str = "hello", **fields: Any) -> httpx.Response:
    return api.post(f"/sessions/{session_id}/chat", json={"message": message, **fields})


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a server-sent event stream."""
    events = []
    for block in response.text.split("\n\n"):
        if block.strip():
            fields = dict(line.split(": ", 1) for line in block.splitlines())
            events.append((fields["event"], json.loads(fields["data"])))
    return events
