"""uvicorn's h11 protocol, with what a server facing the network needs and uvicorn lacks.

- A deadline for the request's headers (`request_read_timeout`). uvicorn only times an idle
  keep-alive connection, so a client that opens a connection and sends a header byte now and
  then held it, and its memory, forever. The timer starts at the first byte of a request (or
  when the connection opens) and stops when h11 has the whole header block. The same deadline
  then bounds the body: the moment is passed on in `scope["extensions"]`, where
  `heron.api.limits.RequestLimits` reads it. The timer also covers bytes that come after the
  answer was sent (an unread body trickling in), which uvicorn would wait for without end.
- A real header size limit. h11's `max_incomplete_event_size` only applies while a header
  block is incomplete, so 200 KB of headers arriving in one read were accepted. Here the bytes
  up to the blank line that ends the headers are counted as they arrive: past
  `MAX_HEADER_BYTES` the answer is 431, or 414 when the request line alone is too long.
- Answers instead of resets. When h11 refused the bytes, uvicorn wrote a 400 and closed at
  once while the client was still sending; the kernel then answers the client's next bytes with
  a reset, which destroys the response in flight. Here the connection is closed the way Go's
  server does it: answer, shut the write side, discard what the client still sends for up to
  `LINGER_SECONDS`, then close.
"""

from __future__ import annotations

import asyncio
import http
import re
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from heron.api.limits import READ_DEADLINE

__all__ = ["MAX_HEADER_BYTES", "LINGER_SECONDS", "HeronH11Protocol"]

MAX_HEADER_BYTES = 64 * 1024
"""Request line plus headers. Go allows 1 MiB, nginx 32 KiB (4 x 8k buffers); Grafana's
longest GET queries and cookies fit well within 64 KiB. Longer queries can be POSTed."""

LINGER_SECONDS = 1.0
_HEADERS_END = re.compile(rb"\n\r?\n")  # h11 accepts bare LF line ends too


class _Connection(h11.Connection):
    """Remembers why h11 refused the peer's bytes, which uvicorn's handler does not pass on."""

    last_error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.last_error = exc
            raise


class HeronH11Protocol(H11Protocol):
    read_timeout: float = 30.0

    @classmethod
    def with_read_timeout(cls, seconds: float) -> type["HeronH11Protocol"]:
        """uvicorn builds protocols itself, from a class; the timeout rides on a subclass."""
        return type(cls.__name__, (cls,), {"read_timeout": seconds})

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_header_bytes = config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
        self.conn = _Connection(h11.SERVER, self.max_header_bytes)
        self._read_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._lingering = False
        self._started = 0.0  # loop time of the request's first byte
        self._seen = 0  # header bytes of this request seen so far
        self._line_end: int | None = None  # offset of the request line's end, once seen
        self._headers_end: int | None = None  # offset just past the blank line, once seen
        self._tail = b""  # the last bytes seen, for a blank line split across reads

    # -- the read deadline ------------------------------------------------------------------
    def _arm(self) -> None:
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)
        self._started = self.loop.time()
        self._reset_count()

    def _reset_count(self) -> None:
        self._seen = 0
        self._line_end = self._headers_end = None
        self._tail = b""

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _serving(self) -> bool:
        """A request is with the app, which times its body itself (RequestLimits)."""
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # answered already; these bytes are only drained
        if self._read_timer is None and not self._serving():
            self._arm()
        if self.conn.their_state is h11.IDLE and not self._serving() and self._headers_too_large(data):
            self._refuse_large_headers()
            return
        super().data_received(data)

    def _headers_too_large(self, data: bytes) -> bool:
        """Count the bytes of a header block as they arrive, before h11 parses them."""
        if self._headers_end is not None:
            return self._headers_end > self.max_header_bytes
        window = self._tail + data
        base = self._seen - len(self._tail)
        if self._line_end is None:
            at = window.find(b"\n")
            if at >= 0:
                self._line_end = base + at
        end = _HEADERS_END.search(window)
        self._seen += len(data)
        self._tail = window[-3:]
        if end is not None:
            self._headers_end = base + end.end()
            return self._headers_end > self.max_header_bytes
        return self._seen > self.max_header_bytes

    def handle_events(self) -> None:
        before = self.scope
        super().handle_events()
        if self.scope is not before and self.scope is not None:
            # The header block is complete: the body's deadline is what is left of the budget.
            started = self._started if self._read_timer is not None else self.loop.time()
            self._disarm()
            self._reset_count()  # a pipelined request's bytes are h11's to count
            extensions: dict[str, Any] = self.scope.setdefault("extensions", {})  # type: ignore[assignment]
            extensions[READ_DEADLINE] = {"at": started + self.read_timeout}

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self._serving() or self.transport.is_closing():
            return
        if self._seen and self.conn.our_state is h11.IDLE:
            limit = f"{self.read_timeout:g}s (request_read_timeout)"
            self._refuse(408, f"request headers not received within {limit}")
        else:  # nothing was sent, or the answer was: there is nobody to tell
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        super().connection_lost(exc)

    # -- refusing bytes h11 cannot parse ----------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        error = self.conn.last_error
        status = error.error_status_hint if error is not None else 400
        if status == 431:
            self._refuse_large_headers()
        else:
            self._refuse(status, f"invalid HTTP request: {error or msg}")

    def _refuse_large_headers(self) -> None:
        if self._line_end is None or self._line_end > self.max_header_bytes:
            self._refuse(414, f"request line (URL) is longer than the limit of {self.max_header_bytes} bytes")
        else:
            self._refuse(431, f"request headers are larger than the limit of {self.max_header_bytes} bytes")

    def _refuse(self, status: int, message: str) -> None:
        """Answer and close without a reset: see the module docstring."""
        body = message.encode("ascii", "replace") + b"\n"
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            f"content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n"
        )
        self._disarm()
        self._unset_keepalive_if_required()
        self._lingering = True
        self.transport.write(head.encode("ascii") + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
