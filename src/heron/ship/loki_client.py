"""Loki push client for the agent: one request at a time, retried until the server decides.

Retries follow Promtail's rules: network errors, 5xx and 429 are retried with exponential
backoff and full jitter (the server may be restarting or shedding load); any other 4xx is
final, because sending the same bytes again cannot succeed. The caller keeps the batch in its
durable queue until `push` returns `Delivered` or `Rejected`, so a crash between the two only
causes a re-send, which the server's duplicate check absorbs.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
from dataclasses import dataclass, field

import httpx

from heron.logsetup import log_fields
from heron.ship.loki_encode import PROTOBUF_CONTENT_TYPE

__all__ = ["PushOutcome", "PushResult", "LokiPushClient", "Backoff"]

log = logging.getLogger("heron.agent.ship")


class PushOutcome(enum.Enum):
    DELIVERED = "delivered"  # 2xx: the server stored (or already had) every entry
    REJECTED = "rejected"  # a final 4xx: logged and counted, not retried
    STOPPED = "stopped"  # the client was closed while retrying


@dataclass(frozen=True)
class PushResult:
    outcome: PushOutcome
    status: int | None
    attempts: int
    message: str = ""


@dataclass
class Backoff:
    """Exponential backoff with full jitter: sleep uniformly in [0, min(max, initial * 2^n)]."""

    initial: float = 0.5
    maximum: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.maximum, self.initial * (2**attempt)))


class LokiPushClient:
    def __init__(
        self,
        url: str,
        *,
        bearer_token: str | None = None,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        """`url` is the server's base URL; the push path is appended."""
        headers = {"Content-Type": PROTOBUF_CONTENT_TYPE, "User-Agent": "heron-agent"}
        if bearer_token:
            headers["Authorization"] = f"Bearer {bearer_token}"
        # A client for a plain-http server never uses TLS: skip loading the CA bundle (~4 MiB of
        # the agent's memory budget). https keeps full verification.
        verify = not url.startswith("http://")
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport, verify=verify
        )
        self.backoff = backoff or Backoff()
        self._stop = threading.Event()
        self.retries_total = 0
        self.rejected_total = 0

    def push(self, body: bytes) -> PushResult:
        """Send one snappy-compressed protobuf PushRequest; retry until a final answer."""
        attempt = 0
        while True:
            attempt += 1
            try:
                r = self._client.post("/loki/api/v1/push", content=body)
            except httpx.TransportError as exc:
                status, message = None, f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= r.status_code < 300:
                    return PushResult(PushOutcome.DELIVERED, r.status_code, attempt)
                status, message = r.status_code, r.text.strip()[:500]
                if 400 <= r.status_code < 500 and r.status_code != 429:
                    self.rejected_total += 1
                    log.error(
                        "push rejected by the server; dropping the batch",
                        extra=log_fields(status=status, error=message, attempts=attempt),
                    )
                    return PushResult(PushOutcome.REJECTED, status, attempt, message)
            delay = self.backoff.delay(attempt - 1)
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
        self._client.close()

    def __enter__(self) -> "LokiPushClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
