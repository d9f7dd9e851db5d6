"""One kept-alive HTTP connection that POSTs and reads the answer, for the agent's two senders
(the Loki push client and remote write): stdlib `http.client`, because the agent's memory
budget has no room for a second HTTP stack.

A kept-alive connection the server closed while idle fails on its next request; that is no
sign of trouble, so the request is sent again at once on a fresh connection (once). Any other
failure is a TransportError, which each sender retries by its own rules.
"""

from __future__ import annotations

import email.utils
import http.client
import time
from typing import Callable

__all__ = ["KeptAlive", "TransportError", "parse_retry_after", "MAX_RETRY_AFTER"]

# Retry-After is honoured up to this; a server asking for longer is still tried every 5 minutes.
MAX_RETRY_AFTER = 300.0

# How a kept-alive connection the server closed while idle fails on its next request.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class TransportError(Exception):
    """No HTTP answer: refused or reset connection, timeout, TLS failure, malformed response."""


def parse_retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; 0 when absent or bad."""
    if not value:
        return 0.0
    value = value.strip()
    if value.isdigit():
        return min(MAX_RETRY_AFTER, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        return 0.0
    return min(MAX_RETRY_AFTER, max(0.0, when.timestamp() - time.time()))


class KeptAlive:
    """A connection made by `connect` when first needed and kept for the next request."""

    def __init__(self, connect: Callable[[], http.client.HTTPConnection]) -> None:
        self._connect = connect
        self._conn: http.client.HTTPConnection | None = None

    def post(
        self, path: str, body: bytes, headers: dict[str, str], limit: int | None = None
    ) -> tuple[int, str, float]:
        """One POST: (status, the answer's text, Retry-After seconds). With `limit`, only that
        many bytes of the answer are read and a connection with more left is not reused."""
        for fresh in (False, True):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read(limit)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conn = None
                if reused and not fresh and isinstance(exc, _STALE):
                    continue
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc
            if resp.will_close or not resp.isclosed():  # an answer not read to its end is not drained
                conn.close()
                self._conn = None
            return (
                resp.status,
                data.decode("utf-8", "replace"),
                parse_retry_after(resp.getheader("Retry-After")),
            )
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
