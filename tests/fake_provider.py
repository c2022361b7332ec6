"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat completions protocol.

Tests drive it through the real ``openai`` SDK: JSON and SSE streaming, usage in every
place providers put it, error statuses with or without bodies, ``retry-after``, streams
cut short, and servers that never answer. Queue scripted responses with ``script()``;
with none queued it echoes the last user message.

Run it by hand for the browser: ``python -m tests.fake_provider --port 8765``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_MODEL = "fake-model"
GATHER_TIMEOUT_SECONDS = 10.0


@dataclass
class Reply:
    """A successful completion, streamed or not.

    ``usage_placement``: "final_chunk" (a last chunk with empty choices, as OpenAI does),
    "x_groq" (Groq's ``x_groq.usage`` on the finish chunk), "both" (Groq's x_groq plus a
    usage chunk with the same numbers), "every_chunk" (running totals on each chunk), or
    "none".
    """

    chunks: list[str] = field(default_factory=lambda: ["Hello", " there", "!"])
    prompt_tokens: int = 10
    completion_tokens: int = 3
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    usage_placement: str = "final_chunk"
    model: str = FAKE_MODEL
    send_finish: bool = True
    send_done: bool = True
    error_after_chunks: dict[str, Any] | None = None
    delay_seconds: float = 0.0
    chunk_delay_seconds: float = 0.0
    # JSON with \uXXXX escapes (as most servers send) instead of raw UTF-8: a lone surrogate
    # then arrives as a valid escape rather than as bytes that are not UTF-8.
    ascii_json: bool = False
    # Events sent verbatim after the text chunks (``data: <event>``), e.g. one that is not JSON.
    raw_events: list[str] = field(default_factory=list)
    # Stop in the middle of an event after the chunks, as a dropped connection would.
    cut_mid_event: bool = False
    # After the text chunks, say nothing for this long (a provider stalling mid-reply).
    stall_seconds: float = 0.0
    # Called after the text chunks are sent: a test's way to act while the reply is streaming.
    after_chunks: Callable[[], None] | None = None
    # Hold the stream before chunk number ``pause_before_chunk`` (1-based) until ``resume`` is
    # set, so a test can look at a half-streamed reply.
    pause_before_chunk: int | None = None
    resume: threading.Event | None = None

    def usage(self, *, prompt_tokens: int | None = None, completion_tokens: int | None = None) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens if prompt_tokens is None else prompt_tokens,
            "completion_tokens": self.completion_tokens if completion_tokens is None else completion_tokens,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


@dataclass
class Failure:
    """An error response: ``body`` a dict (sent as JSON), a str (sent as is) or None."""

    status: int
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    """Any response, sent exactly as given (a web page where a stream was expected, say)."""

    status: int
    body: bytes
    content_type: str


@dataclass
class Hang:
    """Accept the request and say nothing for ``seconds``."""

    seconds: float = 30.0


Scripted = Reply | Failure | Raw | Hang


def error_body(message: str, *, code: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections when many requests arrive at
    # once, and the client's retry a second later would look like a slow API.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closes a kept-alive connection (the API shutting down) is not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeProvider:
    """The server; use as a context manager or call ``start()``/``stop()``."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, echo_chunk_delay: float = 0.0, echo_delay: float = 0.0
    ) -> None:
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.echo_chunk_delay = echo_chunk_delay
        # Seconds an echo waits before answering, like a model thinking (for concurrency tests).
        self.echo_delay = echo_delay
        # Chat requests being answered right now, and the most there ever were at once.
        self.in_flight = 0
        self.max_in_flight = 0
        # When set, every chat request waits (up to GATHER_TIMEOUT_SECONDS) until this many were
        # in flight at once: a test of concurrency that does not depend on how fast the machine is.
        self.gather = 0
        self._in_flight_changed = threading.Condition(self._lock)
        self._server = _Server((host, port), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *responses: Scripted) -> None:
        """Queue responses, answered in order by the next requests."""
        with self._lock:
            self._queue.extend(responses)

    def reset(self) -> None:
        """Forget queued responses and recorded requests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def next_response(self, body: dict[str, Any] | None) -> Scripted:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self._echo(body)

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _echo(self, body: dict[str, Any] | None) -> Reply:
        messages = (body or {}).get("messages") or []
        last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        words = f"Echo: {last}".split(" ")
        chunks = [words[0]] + [" " + word for word in words[1:]]
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1
        return Reply(
            chunks=chunks,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(chunks),
            chunk_delay_seconds=self.echo_chunk_delay,
            delay_seconds=self.echo_delay,
        )

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _record(self, body: dict[str, Any] | None) -> None:
            provider.requests.append(RecordedRequest(self.command, self.path, dict(self.headers), body))

        def do_GET(self) -> None:
            self._record(None)
            if self.path.rstrip("/").endswith("/models"):
                self._send_json(
                    200, {"object": "list", "data": [{"id": FAKE_MODEL, "object": "model", "owned_by": "fake"}]}
                )
            else:
                self._send_json(404, error_body("not found"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            self._record(body)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, error_body("not found"))
                return
            with provider._in_flight_changed:
                provider.in_flight += 1
                provider.max_in_flight = max(provider.max_in_flight, provider.in_flight)
                provider._in_flight_changed.notify_all()
                if provider.gather:
                    provider._in_flight_changed.wait_for(
                        lambda: provider.max_in_flight >= provider.gather, timeout=GATHER_TIMEOUT_SECONDS
                    )
            try:
                self._answer(provider.next_response(body), body)
            finally:
                with provider._lock:
                    provider.in_flight -= 1

        def _answer(self, response: Scripted, body: dict[str, Any] | None) -> None:
            if isinstance(response, Hang):
                time.sleep(response.seconds)
                self.close_connection = True
                return
            if isinstance(response, Failure):
                self._send_failure(response)
                return
            if isinstance(response, Raw):
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)
                return
            if response.delay_seconds:
                time.sleep(response.delay_seconds)
            if (body or {}).get("stream"):
                self._send_stream(response)
            else:
                self._send_completion(response)

        def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_failure(self, failure: Failure) -> None:
            if isinstance(failure.body, dict):
                self._send_json(failure.status, failure.body, failure.headers)
                return
            data = (failure.body or "").encode()
            self.send_response(failure.status)
            self.send_header("Content-Type", "text/plain" if failure.body else "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            for name, value in failure.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_completion(self, reply: Reply) -> None:
            self._send_json(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": reply.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(reply.chunks)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": reply.usage() if reply.usage_placement != "none" else None,
                },
            )

        def _send_stream(self, reply: Reply) -> None:
            # The connection closes after each stream: the SDK closes a stream's response once
            # it has read [DONE], so a kept-alive one would rarely be reused anyway, and an idle
            # pooled socket would outlive the test that opened it.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            # The client may stop reading mid-stream: that is a case under test, not a failure.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._write_stream(reply)

        def _write_stream(self, reply: Reply) -> None:
            def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": reply.model,
                    "choices": choices,
                    **extra,
                }

            def send(payload: dict[str, Any] | str) -> None:
                data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=reply.ascii_json)
                self.wfile.write(f"data: {data}\n\n".encode("utf-8", "surrogatepass"))
                self.wfile.flush()

            send(chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]))
            for position, text in enumerate(reply.chunks, start=1):
                if reply.resume is not None and position == reply.pause_before_chunk:
                    reply.resume.wait(timeout=30)
                if reply.chunk_delay_seconds:
                    time.sleep(reply.chunk_delay_seconds)
                extra = {}
                if reply.usage_placement == "every_chunk":
                    extra["usage"] = reply.usage(completion_tokens=position)
                send(chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}], **extra))
            if reply.after_chunks is not None:
                reply.after_chunks()
            for event in reply.raw_events:
                send(event)
            if reply.stall_seconds:
                time.sleep(reply.stall_seconds)
            if reply.cut_mid_event:
                self.wfile.write(b'data: {"id": "chatcmpl-fake", "choi')
                self.wfile.flush()
                return
            if reply.error_after_chunks is not None:
                send({"error": reply.error_after_chunks})
                return
            if reply.send_finish:
                extra = {}
                if reply.usage_placement in ("x_groq", "both"):
                    extra["x_groq"] = {"id": "req_fake", "usage": reply.usage()}
                if reply.usage_placement == "every_chunk":
                    extra["usage"] = reply.usage()
                send(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}], **extra))
            if reply.usage_placement in ("final_chunk", "both"):
                send(chunk([], usage=reply.usage()))
            if reply.send_done:
                send("[DONE]")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="A local OpenAI-compatible server that echoes messages.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--chunk-delay", type=float, default=0.05, help="seconds between streamed words")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply starts")
    args = parser.parse_args()
    provider = FakeProvider(port=args.port, echo_chunk_delay=args.chunk_delay, echo_delay=args.delay)
    print(f"Fake OpenAI-compatible provider at {provider.base_url}", flush=True)
    provider.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        provider.stop()


if __name__ == "__main__":
    main()
