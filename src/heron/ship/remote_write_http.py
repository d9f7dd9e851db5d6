"""One remote-write endpoint over HTTP(S): auth, TLS, headers and a timeout from RemoteWriteConfig.

Kept apart from the sender so the sender's loop (queue, batching, retries) reads without the
transport's details, and so the transport is the one seam tests may replace. Stdlib
`http.client` on one kept-alive connection, as the Loki push client does (the agent's memory
budget has no room for a second HTTP stack).

Files named by `password_file` and `credentials_file` are read at every request, trimmed of
surrounding whitespace, as Prometheus reads them: a rotated secret is picked up without a restart.
"""

from __future__ import annotations

import base64
import http.client
import ssl
from urllib.parse import urlsplit

from heron.promconfig.types import RemoteWriteConfig, TLSConfig
from heron.ship.keepalive import KeptAlive, TransportError

__all__ = ["RemoteWriteHTTP", "TransportError"]


def _read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as exc:
        raise TransportError(f"cannot read secret file {path!r}: {exc.strerror}") from None


def _ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=tls.ca_file or None, cadata=tls.ca or None)
    if tls.cert_file or tls.key_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS with a TLS server name other than the host (tls_config.server_name)."""

    def __init__(self, host: str, port: int, *, timeout: float, context: ssl.SSLContext, server_name: str):
        super().__init__(host, port, timeout=timeout, context=context)
        self._heron_context = context
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._heron_context.wrap_socket(self.sock, server_hostname=self._server_name)


class RemoteWriteHTTP:
    """POSTs bodies to `cfg.url`; `post` returns (status, body text, Retry-After seconds)."""

    def __init__(self, cfg: RemoteWriteConfig, user_agent: str = "heron") -> None:
        parts = urlsplit(cfg.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"remote_write url must be http:// or https:// with a host, not {cfg.url!r}")
        self.cfg = cfg
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._ctx = _ssl_context(cfg.tls_config) if self._https else None
        self._user_agent = user_agent
        self._conn = KeptAlive(self._connect)

    def _connect(self) -> http.client.HTTPConnection:
        timeout = self.cfg.remote_timeout
        if self._ctx is None:
            return http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        name = self.cfg.tls_config.server_name
        if name:
            return _HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ctx, server_name=name
            )
        return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ctx)

    def _auth_header(self) -> str | None:
        ba = self.cfg.basic_auth
        if ba is not None:
            password = _read_secret(ba.password_file) if ba.password_file else ba.password
            token = base64.b64encode(f"{ba.username}:{password}".encode()).decode()
            return f"Basic {token}"
        az = self.cfg.authorization
        if az is not None:
            cred = _read_secret(az.credentials_file) if az.credentials_file else az.credentials
            return f"{az.type or 'Bearer'} {cred}"
        return None

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, float]:
        """One POST; a stale kept-alive connection is replaced once, anything else raises."""
        send = {"User-Agent": self._user_agent, **self.cfg.headers, **headers}
        auth = self._auth_header()
        if auth is not None:
            send["Authorization"] = auth
        return self._conn.post(self._path, body, send, limit=64 << 10)  # 64 KiB is all a log line needs

    def close(self) -> None:
        self._conn.close()
