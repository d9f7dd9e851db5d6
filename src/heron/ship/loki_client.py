"""Loki push client for the agent: one request at a time, retried until the server decides.

Retries follow Promtail's rules: network errors, 5xx and 429 are retried with exponential
backoff and full jitter (the server may be restarting or shedding load); any other 4xx is
final, because sending the same bytes again cannot succeed. A `Retry-After` header (a full
disk answers 507 with one, a failing disk 503) sets the least wait before the next attempt.
The caller keeps the batch in its durable queue until `push` returns `Delivered` or `Rejected`,
so a crash between the two only causes a re-send, which the server's duplicate check absorbs.
"""

from __future__ import annotations

import enum
import http.client
import logging
import random
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from heron.logsetup import log_fields
from heron.ship.keepalive import MAX_RETRY_AFTER, KeptAlive, TransportError, parse_retry_after
from heron.ship.loki_encode import PROTOBUF_CONTENT_TYPE

__all__ = ["PushOutcome", "PushResult", "LokiPushClient", "Backoff", "parse_retry_after", "MAX_RETRY_AFTER"]

log = logging.getLogger("heron.agent.ship")


class PushOutcome(enum.Enum):
    DELIVERED = "delivered"  # 2xx: the server stored (or already had) every entry
    REJECTED = "rejected"  # a final 4xx: logged and counted, not retried
    STOPPED = "stopped"  # the client was closed while retrying
    RETRY = "retry"  # not stored now (e.g. the disk is full): keep the batch, send it again later


@dataclass(frozen=True)
class PushResult:
    outcome: PushOutcome
    status: int | None
    attempts: int
    message: str = ""
    retry_after: float = 0.0  # with RETRY: seconds to wait before sending the batch again


@dataclass
class Backoff:
    """Exponential backoff with full jitter: sleep uniformly in [0, min(max, initial * 2^n)]."""

    initial: float = 0.5
    maximum: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.maximum, self.initial * (2**attempt)))


class LokiPushClient:
    """Pushes over one kept-alive connection (stdlib `http.client`).

    Why not httpx: the agent's memory budget is 64 MiB, and httpx with httpcore costs ~4-8 MiB
    of it for one POST endpoint; with pod metadata on, lightkube brings its own HTTP stack too.
    """

    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
    ):
        """`url` is the server's base URL (`http://` or `https://`); the push path is appended."""
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"push URL must be http:// or https:// with a host, not {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path + "/loki/api/v1/push"
        self._headers = {"Content-Type": PROTOBUF_CONTENT_TYPE, "User-Agent": "heron-agent"}
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        self._timeout = timeout
        self._conn = KeptAlive(self._connect)
        self.backoff = backoff or Backoff()
        self._stop = threading.Event()
        self.retries_total = 0
        self.rejected_total = 0

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            import ssl  # only for https: the module and its CA bundle cost memory

            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _post(self, body: bytes) -> tuple[int, str, float]:
        return self._conn.post(self._path, body, self._headers)

    def push(self, body: bytes) -> PushResult:
        """Send one snappy-compressed protobuf PushRequest; retry until a final answer."""
        attempt = 0
        while True:
            attempt += 1
            retry_after = 0.0
            try:
                code, text, retry_after = self._post(body)
            except TransportError as exc:
                status, message = None, str(exc)
            else:
                if 200 <= code < 300:
                    return PushResult(PushOutcome.DELIVERED, code, attempt)
                status, message = code, text.strip()[:500]
                if 400 <= code < 500 and code != 429:
                    self.rejected_total += 1
                    log.error(
                        "push rejected by the server; dropping the batch",
                        extra=log_fields(status=status, error=message, attempts=attempt),
                    )
                    return PushResult(PushOutcome.REJECTED, status, attempt, message)
            delay = max(self.backoff.delay(attempt - 1), retry_after)
            self.retries_total += 1
            log.warning(
                "push failed; retrying",
                extra=log_fields(status=status, error=message, attempt=attempt, retry_in=round(delay, 3)),
            )
            if self._stop.wait(delay):
                return PushResult(PushOutcome.STOPPED, status, attempt, message)

    def stop_retrying(self) -> None:
        """Make a push that is waiting to retry give up (returns STOPPED); used at shutdown."""
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self._conn.close()

    def __enter__(self) -> "LokiPushClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
