"""The scraper's HTTP side: one GET per scrape, bounded in time and in bytes.

Prometheus' `targetScraper` in Python's standard `http.client`, because the scraper needs
control that higher-level clients hide: one deadline over the whole exchange (connect, headers
and every body read), a body size limit applied to the *decompressed* body while it streams (a
gzip bomb stops at the limit, never in memory), and a kept-alive connection per target.

Credentials files (`password_file`, `credentials_file`) are read at every scrape, as Prometheus
does, so a rotated service-account token is picked up without a reload.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from heron import __version__
from heron.promconfig import Authorization, BasicAuth, TLSConfig

__all__ = [
    "HARD_BODY_LIMIT",
    "USER_AGENT",
    "HttpSettings",
    "ScrapeClient",
    "FetchError",
    "build_ssl_context",
]

USER_AGENT = f"Heron/{__version__}"
HARD_BODY_LIMIT = 512 * 1024 * 1024
"""The body cap when `body_size_limit` is 0 ("no limit" in Prometheus): Heron never lets one
target's answer take unbounded memory (a documented difference)."""

_READ_CHUNK = 256 * 1024
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_MAX_REDIRECTS = 10  # Go's http.Client default, which Prometheus uses


class FetchError(Exception):
    """A scrape that failed before there was a body to parse. `str()` is the target's
    lastError, worded as Prometheus words it; `reason` is the `/metrics` counter's label."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class HttpSettings:
    """What the client needs from a scrape config (one per scrape pool)."""

    accept: str
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig = TLSConfig()
    follow_redirects: bool = True
    enable_compression: bool = True
    body_size_limit: int = 0


def build_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """A client context for `tls_config`; raises OSError/ssl.SSLError for unreadable or bad
    files, which the pool reports as every target's error."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    min_version = getattr(tls, "min_version", "")
    max_version = getattr(tls, "max_version", "")
    ctx.minimum_version = _TLS_VERSIONS.get(min_version, ssl.TLSVersion.TLSv1_2)  # Go's default: 1.2
    if max_version in _TLS_VERSIONS:
        ctx.maximum_version = _TLS_VERSIONS[max_version]
    if tls.ca_file or tls.ca:
        ctx.load_verify_locations(cafile=tls.ca_file or None, cadata=tls.ca or None)
    else:
        ctx.load_default_certs()
    if tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _HTTPSConnection(http.client.HTTPConnection):
    """HTTPS with an explicit SNI/verification name (`tls_config.server_name`)."""

    default_port = 443

    def __init__(
        self, host: str, port: int | None, context: ssl.SSLContext, server_name: str, timeout: float
    ):
        super().__init__(host, port, timeout=timeout)
        self._context = context
        self._server_name = server_name

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name or self.host)


def _read_secret(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise FetchError(f"unable to read {what} file {path}: {exc}", "auth") from None


def _format_seconds(seconds: float) -> str:
    """Go's strconv.FormatFloat(s, 'f', -1, 64) for the timeout header: 10 -> "10"."""
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return text or "0"


class ScrapeClient:
    """One target's HTTP connection, reused across scrapes (keep-alive). Not thread-safe: a
    scrape loop runs one scrape at a time and owns its client."""

    def __init__(self, settings: HttpSettings, ssl_context: ssl.SSLContext | None):
        self.settings = settings
        self._ssl = ssl_context
        self._conn: http.client.HTTPConnection | None = None
        self._conn_key: tuple[str, str, int | None] | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._conn_key = None

    def _headers(self, timeout: float) -> dict[str, str]:
        s = self.settings
        headers = {
            "Accept": s.accept,
            "Accept-Encoding": "gzip" if s.enable_compression else "identity",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Scrape-Timeout-Seconds": _format_seconds(timeout),
        }
        if s.basic_auth is not None:
            password = s.basic_auth.password
            if s.basic_auth.password_file:
                password = _read_secret(s.basic_auth.password_file, "basic auth password")
            token = base64.b64encode(f"{s.basic_auth.username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        elif s.authorization is not None:
            credentials = s.authorization.credentials
            if s.authorization.credentials_file:
                credentials = _read_secret(s.authorization.credentials_file, "authorization credentials")
            headers["Authorization"] = f"{s.authorization.type or 'Bearer'} {credentials}"
        return headers

    def _connection(
        self, scheme: str, host: str, port: int | None, timeout: float
    ) -> http.client.HTTPConnection:
        key = (scheme, host, port)
        if self._conn is not None and self._conn_key == key:
            return self._conn
        self.close()
        if scheme == "https":
            if self._ssl is None:
                raise FetchError("https target without a TLS context", "http")
            conn: http.client.HTTPConnection = _HTTPSConnection(
                host, port, self._ssl, self.settings.tls_config.server_name, timeout
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self._conn, self._conn_key = conn, key
        return conn

    def fetch(self, url: str, timeout: float) -> tuple[bytes, str | None]:
        """GET `url` within `timeout` seconds: (decompressed body, Content-Type). Raises
        FetchError; the connection is dropped after any failure so the next scrape starts
        clean."""
        deadline = time.monotonic() + timeout
        try:
            return self._fetch(url, timeout, deadline)
        except FetchError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise FetchError(f'Get "{url}": context deadline exceeded', "timeout") from None
        except ssl.SSLError as exc:
            self.close()
            raise FetchError(f'Get "{url}": {exc}', "tls") from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise FetchError(f'Get "{url}": {_describe(exc)}', "http") from None

    def _fetch(self, url: str, timeout: float, deadline: float) -> tuple[bytes, str | None]:
        headers = self._headers(timeout)
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f'Get "{current}": unsupported URL', "http")
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            conn = self._connection(parts.scheme, parts.hostname, parts.port, remaining)
            try:
                conn.timeout = remaining
                if conn.sock is not None:
                    conn.sock.settimeout(remaining)
                conn.request("GET", path, headers={**headers, "Host": parts.netloc})
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the target closed meanwhile: one fresh attempt.
                self.close()
                conn = self._connection(parts.scheme, parts.hostname, parts.port, remaining)
                conn.request("GET", path, headers={**headers, "Host": parts.netloc})
                resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308) and self.settings.follow_redirects:
                location = resp.getheader("Location")
                resp.read()
                if not location:
                    raise FetchError(f"server returned HTTP status {resp.status} {resp.reason}", "http")
                current = urljoin(current, location)
                continue
            if resp.status != 200:
                resp.read(64 * 1024)  # drain a little, then drop the connection
                self.close()
                raise FetchError(f"server returned HTTP status {resp.status} {resp.reason}", "http")
            body = self._read_body(resp, conn, deadline)
            if resp.will_close:
                self.close()
            return body, resp.getheader("Content-Type")
        raise FetchError(f'Get "{url}": stopped after {_MAX_REDIRECTS} redirects', "http")

    def _read_body(
        self, resp: http.client.HTTPResponse, conn: http.client.HTTPConnection, deadline: float
    ) -> bytes:
        """The body, decompressed when gzip, failing at the size limit as Prometheus does
        (`n >= limit` is already too much) and at the deadline between reads."""
        limit = self.settings.body_size_limit or HARD_BODY_LIMIT
        gz = resp.getheader("Content-Encoding", "").lower() == "gzip"
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
        parts: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = resp.read(_READ_CHUNK)
            if not chunk:
                break
            if inflate is None:
                parts.append(chunk)
                size += len(chunk)
                if size >= limit:
                    raise FetchError("body size limit exceeded", "body_size_limit")
                continue
            data = chunk
            while data:
                try:
                    out = inflate.decompress(data, limit - size + 1)
                except zlib.error as exc:
                    raise FetchError(f"gzip: invalid body: {exc}", "http") from None
                parts.append(out)
                size += len(out)
                if size >= limit:
                    raise FetchError("body size limit exceeded", "body_size_limit")
                data = inflate.unconsumed_tail
        if inflate is not None:
            try:
                tail = inflate.flush()
            except zlib.error as exc:
                raise FetchError(f"gzip: invalid body: {exc}", "http") from None
            size += len(tail)
            if size >= limit:
                raise FetchError("body size limit exceeded", "body_size_limit")
            parts.append(tail)
            if not inflate.eof:
                raise FetchError("gzip: unexpected EOF", "http")
        return b"".join(parts)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"dial tcp: lookup: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    return text
