"""The HTTP client keys Prometheus inlines into scrape, remote-write and Kubernetes SD configs.

This is `prometheus/common`'s `config.HTTPClientConfig` (v0.39, what Prometheus 2.42 uses):
`basic_auth`, `authorization`, `bearer_token[_file]` (which become `authorization`), `oauth2`,
`proxy_url`, `proxy_connect_header`, `tls_config`, `follow_redirects`, `enable_http2`, with its
`Validate` rules on which of them may be combined. Heron does not implement OAuth 2 or proxies;
a config that sets them is refused with a message saying so, rather than scraped without them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from heron.promconfig.fields import Fields, fail
from heron.promconfig.types import Authorization, BasicAuth, TLSConfig

__all__ = ["HTTP_CLIENT_KEYS", "HTTPClient", "check_tls_files", "join_dir", "parse_http_client"]

HTTP_CLIENT_KEYS = (
    "basic_auth",
    "authorization",
    "oauth2",
    "bearer_token",
    "bearer_token_file",
    "proxy_url",
    "proxy_connect_header",
    "tls_config",
    "follow_redirects",
    "enable_http2",
)
_TLS_KEYS = (
    "ca_file",
    "cert_file",
    "key_file",
    "server_name",
    "insecure_skip_verify",
    "min_version",
    "max_version",
)
_TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


@dataclass(frozen=True)
class HTTPClient:
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    follow_redirects: bool = True
    enable_http2: bool = True


def join_dir(base_dir: str, path: str) -> str:
    """Prometheus' `config.JoinDir`: relative paths are relative to the config file."""
    if not path or os.path.isabs(path):
        return path
    return os.path.join(base_dir, path)


def _tls(f: Fields, base_dir: str) -> TLSConfig:
    if f.raw("tls_config") is None:
        return TLSConfig()
    t = Fields(f.raw("tls_config"), f.at("tls_config"), f.source, _TLS_KEYS)
    versions = {}
    for key in ("min_version", "max_version"):
        text = t.string(key)
        if text and text not in _TLS_VERSIONS:
            t.fail(key, f"unknown TLS version: {text}")
        versions[key] = text
    return TLSConfig(
        ca_file=join_dir(base_dir, t.string("ca_file")),
        cert_file=join_dir(base_dir, t.string("cert_file")),
        key_file=join_dir(base_dir, t.string("key_file")),
        server_name=t.string("server_name"),
        insecure_skip_verify=t.boolean("insecure_skip_verify"),
        **versions,
    )


def parse_http_client(f: Fields, base_dir: str) -> HTTPClient:
    """Read and validate the inlined HTTP client keys of the mapping `f`."""
    basic = None
    if f.raw("basic_auth") is not None:
        b = Fields(
            f.raw("basic_auth"), f.at("basic_auth"), f.source, ("username", "password", "password_file")
        )
        basic = BasicAuth(
            username=b.string("username"),
            password=b.string("password"),
            password_file=join_dir(base_dir, b.string("password_file")),
        )
    auth_fields = None
    if f.raw("authorization") is not None:
        auth_fields = Fields(
            f.raw("authorization"),
            f.at("authorization"),
            f.source,
            ("type", "credentials", "credentials_file"),
        )
    bearer = f.string("bearer_token")
    bearer_file = f.string("bearer_token_file")
    oauth2 = f.raw("oauth2") is not None

    if bearer and bearer_file:
        f.fail("bearer_token_file", "at most one of bearer_token & bearer_token_file must be configured")
    if (basic is not None or oauth2) and (bearer or bearer_file):
        f.fail(
            "bearer_token" if bearer else "bearer_token_file",
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        )
    if basic is not None and basic.password and basic.password_file:
        f.fail(
            "basic_auth.password_file",
            "at most one of basic_auth password & password_file must be configured",
        )
    authorization = None
    if auth_fields is not None:
        if bearer or bearer_file:
            f.fail("authorization", "authorization is not compatible with bearer_token & bearer_token_file")
        credentials = auth_fields.string("credentials")
        credentials_file = join_dir(base_dir, auth_fields.string("credentials_file"))
        if credentials and credentials_file:
            auth_fields.fail(
                "credentials_file",
                "at most one of authorization credentials & credentials_file must be configured",
            )
        kind = auth_fields.string("type").strip() or "Bearer"
        if kind.lower() == "basic":
            auth_fields.fail("type", 'authorization type cannot be set to "basic", use "basic_auth" instead')
        if basic is not None or oauth2:
            f.fail("authorization", "at most one of basic_auth, oauth2 & authorization must be configured")
        authorization = Authorization(type=kind, credentials=credentials, credentials_file=credentials_file)
    elif bearer:
        authorization = Authorization(type="Bearer", credentials=bearer)
    elif bearer_file:
        authorization = Authorization(type="Bearer", credentials_file=join_dir(base_dir, bearer_file))
    if oauth2:
        if basic is not None:
            f.fail("oauth2", "at most one of basic_auth, oauth2 & authorization must be configured")
        f.fail(
            "oauth2",
            "OAuth 2.0 client credentials are not supported by Heron; use authorization or basic_auth",
        )
    proxy_url = f.string("proxy_url")
    if f.raw("proxy_connect_header") is not None and f.raw("proxy_connect_header") != {} and not proxy_url:
        f.fail(
            "proxy_connect_header", "if proxy_connect_header is configured proxy_url must also be configured"
        )
    if proxy_url:
        f.fail("proxy_url", "proxies are not supported by Heron; scrape and send directly")
    tls = _tls(f, base_dir)
    return HTTPClient(
        basic_auth=basic,
        authorization=authorization,
        tls_config=tls,
        follow_redirects=f.boolean("follow_redirects", True),
        enable_http2=f.boolean("enable_http2", True),
    )


def check_tls_files(f: Fields, tls: TLSConfig) -> None:
    """promtool's `checkTLSConfig`: a client certificate needs its key and the reverse, and
    both files must exist."""
    path = f.at("tls_config")
    if tls.cert_file and not tls.key_file:
        fail(
            f"{path}.cert_file",
            f'client cert file "{tls.cert_file}" specified without client key file',
            f.source,
        )
    if tls.key_file and not tls.cert_file:
        fail(
            f"{path}.key_file",
            f'client key file "{tls.key_file}" specified without client cert file',
            f.source,
        )
    for key, name in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if name and not os.path.isfile(name):
            fail(
                f"{path}.{key}",
                f'error checking client {key.split("_")[0]} file "{name}": no such file',
                f.source,
            )
