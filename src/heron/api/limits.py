"""Request limits Starlette leaves to the server: parameter counts, form size, body deadline.

Go's net/http, which Loki and Prometheus run on, caps these and Heron copies its numbers:

- at most `MAX_PARAMS` parameters in a query string or form (Go's net/url default since
  1.24.12/1.25.6, `urlmaxqueryparams`, CVE-2025-61726): 400;
- a form body of at most `MAX_FORM_BYTES` (Go's `ParseForm` cap), read in chunks and refused
  the moment it passes the cap: 413;
- the body must have arrived by the request's read deadline (`request_read_timeout`, counted
  from the request's first byte, or from the connection's opening for its first request; see
  `heron.api.connection`): else 408, and the connection is closed. uvicorn has no body
  timeout at all, so a client trickling a body held its request open forever.

A handler refuses a request by raising `RequestRefused`; `RequestLimits` (the middleware)
turns it into a plain-text answer in the shape of Heron's other errors.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_PARAMS", "MAX_FORM_BYTES", "READ_DEADLINE", "RequestRefused", "RequestLimits", "read_form"]

MAX_PARAMS = 10_000
MAX_FORM_BYTES = 10 * 1024 * 1024
READ_DEADLINE = "heron.read_deadline"
"""ASGI scope extension the server sets: {"at": loop time} by which the request must have arrived."""


class RequestRefused(Exception):
    """Answer `status` with `message`; `close` also closes the connection (the client is slow)."""

    def __init__(self, status: int, message: str, *, close: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


def _too_many_params(where: str) -> RequestRefused:
    return RequestRefused(400, f"too many parameters in the {where}: the limit is {MAX_PARAMS}")


async def read_form(request: Request) -> list[tuple[str, str]]:
    """The pairs of an `application/x-www-form-urlencoded` body, within both caps."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise _form_too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise _form_too_large()
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", "replace")
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARAMS)
    except ValueError:  # "Max number of fields exceeded"
        raise _too_many_params("form body") from None


def _form_too_large() -> RequestRefused:
    return RequestRefused(413, f"form body too large: the limit is {MAX_FORM_BYTES} bytes")


class RequestLimits:
    """ASGI middleware: the parameter cap for every request, the body deadline, and the
    answer to `RequestRefused` from any handler (unless it had begun answering already)."""

    def __init__(self, app: ASGIApp, read_timeout: float) -> None:
        self.app = app
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if query and query.count(b"&") + 1 > MAX_PARAMS:  # how parse_qsl and Go count them
            await _answer(send, _too_many_params("query string"))
            return
        given = scope.get("extensions", {}).get(READ_DEADLINE, {}).get("at")
        deadline = given if given is not None else asyncio.get_running_loop().time() + self.read_timeout
        body_done = False
        started = False

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestRefused(
                    408,
                    f"request body not received within {self.read_timeout:g}s (request_read_timeout)",
                    close=True,
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_tracked)
        except RequestRefused as exc:
            if started:
                raise
            await _answer(send, exc)


async def _answer(send: Send, refusal: RequestRefused) -> None:
    body = refusal.message.rstrip("\n").encode() + b"\n"
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if refusal.close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
