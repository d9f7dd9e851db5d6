"""Settings: parsers, precedence of file < env < flag, and one-line errors naming the key."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from heron import config
from heron.config import SETTINGS, ConfigError, Settings, load_settings, parse_duration, parse_size


def write(tmp_path: Path, text: str, name: str = "heron.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def assert_one_line(exc: ConfigError, key: str) -> str:
    message = str(exc)
    assert "\n" not in message
    assert message.startswith(f"config error: {key}: "), message
    return message


# --- parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("15d", 15 * 86400.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2w", 14 * 86400.0),
        ("1y", 365 * 86400.0),
        ("1s", 1.0),
        ("90s", 90.0),
        ("1m", 60.0),
        ("1m1ms", 60.001),
        ("1y2w3d4h5m6s7ms", 365 * 86400 + 17 * 86400 + 4 * 3600 + 5 * 60 + 6.007),
        (" 5m ", 300.0),
    ],
)
def test_parse_duration_good(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "15x", "1.5h", "30m1h", "-1h", "h", "1", "10 s", "1d1d", "1H", "ms"])
def test_parse_duration_bad(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("262144", 262144),
        ("256KiB", 256 * 1024),
        ("512MiB", 512 * 1024**2),
        ("1.5GiB", 3 * 1024**3 // 2),
        ("2TiB", 2 * 1024**4),
        ("1KB", 1000),
        ("10GB", 10 * 1000**3),
        ("3MB", 3 * 1000**2),
        ("1TB", 1000**4),
        ("7B", 7),
        ("64mib", 64 * 1024**2),
        ("100 MiB", 100 * 1024**2),
    ],
)
def test_parse_size_good(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "1.5", "0.5B", "-1", "10XB", "1e6", "1,000", "1.2.3KiB", "1 K"])
def test_parse_size_bad(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9500", ("127.0.0.1", 9500)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        (":9500", ("", 9500)),
        ("[::1]:9500", ("::1", 9500)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_split_host_port_good(text: str, expected: tuple[str, int]) -> None:
    assert config.split_host_port(text) == expected


@pytest.mark.parametrize("text", ["9500", "host:", "host:port", "::1:9500", "host:70000", ""])
def test_split_host_port_bad(text: str) -> None:
    with pytest.raises(ValueError, match="invalid address"):
        config.split_host_port(text)


# A directory shaped like a UI build, for the ui_dir setting (which checks for index.html).
UI_FIXTURE = Path(__file__).parent / "api" / "ui_fixture"

# Each setting: a good raw value with its parsed result, and a bad one.
CASES: dict[str, tuple[str, object, str]] = {
    "listen": ("0.0.0.0:9600", "0.0.0.0:9600", "nowhere"),
    "data_dir": ("/var/lib/heron", Path("/var/lib/heron"), ""),
    "log_level": ("DEBUG", "debug", "verbose"),
    "log_format": ("json", "json", "xml"),
    "retention": ("30d", 30 * 86400.0, "0"),
    "retention_size": ("50GiB", 50 * 1024**3, "50 gigs"),
    "fsync": ("always", "always", "sometimes"),
    "ooo_window": ("0", 0.0, "-1h"),
    "max_line_size": ("1MiB", 1024**2, "0"),
    "max_labels_per_series": ("12", 12, "0"),
    "max_active_series": ("1000", 1000, "lots"),
    "head_max_size": ("128MiB", 128 * 1024**2, "1.5"),
    "block_duration": ("1h", 3600.0, "0s"),
    "max_entries_per_query": ("100", 100, "0"),
    "max_series_per_query": ("20", 20, "many"),
    "query_timeout": ("30s", 30.0, "0"),
    "query_memory_budget": ("64MiB", 64 * 1024**2, "0"),
    "query_workers": ("4", 4, "-1"),
    "lookback_delta": ("1m30s", 90.0, "0"),
    "query_max_samples": ("1000", 1000, "0"),
    "max_push_size": ("1MiB", 1024**2, "0"),
    "future_skew": ("5m", 300.0, "5x"),
    "request_read_timeout": ("10s", 10.0, "0"),
    "ingestion_rate": ("4MB", 4 * 1000**2, "fast"),
    "ingestion_burst": ("8MB", 8 * 1000**2, "-1"),
    "discover_service_name": ("app, job", ("app", "job"), "app-name"),
    "discover_log_levels": ("False", False, "maybe"),
    "ui_dir": (str(UI_FIXTURE), UI_FIXTURE, "/nonexistent/ui"),
    "pods_dir": ("/var/log/pods", Path("/var/log/pods"), ""),
    "state_dir": ("/var/lib/heron-agent", Path("/var/lib/heron-agent"), ""),
    "server": ("http://heron:9500/", "http://heron:9500", "heron:9500"),
    "node_name": ("node-1.example", "node-1.example", "Node_1!"),
    "kube": ("none", "none", "sometimes"),
    "kubelet_scheme": ("HTTP", "http", "ftp"),
    "kubelet_token_file": ("/run/token", "/run/token", "token"),
    "kubelet_insecure_skip_verify": ("true", True, "sometimes"),
    "bearer_token_file": (__file__, __file__, "/nonexistent/token"),
    "agent_queue_size": ("1GiB", 1024**3, "0"),
    "agent_listen": ("0.0.0.0:9501", "0.0.0.0:9501", "nowhere"),
    "start_at": ("END", "end", "middle"),
    "pod_label_allow": ("app, team*", ("app", "team*"), "a b"),
    "pod_label_deny": ("", (), "x=y"),
    "multiline_flush": ("500ms", 0.5, "0"),
    "multiline_max_size": ("1MiB", 1024**2, "0"),
    "demo_rate": ("2.5", 2.5, "-1"),
}


def test_default_label_deny_list_matches_the_collectors() -> None:
    from heron.collect.logs.kube import DEFAULT_LABEL_DENY

    defaults = config.load_settings(None, {}, {})
    assert defaults.pod_label_deny == DEFAULT_LABEL_DENY


def test_cases_cover_every_setting() -> None:
    assert set(CASES) == {s.name for s in SETTINGS}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_setting_good_value(name: str) -> None:
    text, expected, _ = CASES[name]
    settings = load_settings(None, {}, {name: text})
    assert getattr(settings, name) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_setting_bad_value_names_key_and_source(name: str) -> None:
    _, _, bad = CASES[name]
    flag = "--" + name.replace("_", "-")
    with pytest.raises(ConfigError) as info:
        load_settings(None, {}, {name: bad})
    message = assert_one_line(info.value, name)
    assert message.endswith(f"(from flag {flag})")
    assert info.value.key == name


def test_fsync_interval() -> None:
    assert load_settings(None, {}, {"fsync": "200ms"}).fsync == pytest.approx(0.2)


# --- defaults, table, options --------------------------------------------------------------


def test_defaults() -> None:
    s = load_settings(None, {}, {})
    assert s.listen == "127.0.0.1:9500"
    assert s.listen_address == ("127.0.0.1", 9500)
    assert s.data_dir == Path("./data")
    assert (s.log_level, s.log_format) == ("info", "logfmt")
    assert s.retention == 15 * 86400.0
    assert s.retention_size == 0
    assert s.fsync == 1.0
    assert s.ooo_window == 3600.0
    assert s.max_line_size == 256 * 1024
    assert s.max_labels_per_series == 30
    assert s.max_active_series == 500_000
    assert s.head_max_size == 64 * 1024 * 1024
    assert s.block_duration == 7200.0


def test_settings_mirror_table() -> None:
    assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS]
    for s in SETTINGS:
        assert s.flag == "--" + s.name.replace("_", "-")
        assert s.env == "HERON_" + s.name.upper()
        assert s.help and s.metavar


def test_settings_are_frozen() -> None:
    s = load_settings(None, {}, {})
    with pytest.raises(AttributeError):
        s.retention = 1.0  # type: ignore[misc]


def test_default_storage_options_match_engine_defaults() -> None:
    from heron.storage.types import StorageOptions

    assert load_settings(None, {}, {}).storage_options() == StorageOptions()


def test_storage_options_mapping() -> None:
    from heron.storage.types import FsyncMode

    s = load_settings(
        None,
        {},
        {
            "fsync": "250ms",
            "retention": "1d",
            "retention_size": "1GiB",
            "ooo_window": "10m",
            "max_line_size": "1KiB",
            "max_labels_per_series": "5",
            "max_active_series": "7",
            "head_max_size": "1MiB",
            "block_duration": "30m",
        },
    )
    o = s.storage_options()
    assert o.fsync is FsyncMode.INTERVAL and o.fsync_interval == pytest.approx(0.25)
    assert o.retention_seconds == 86400.0
    assert o.retention_bytes == 1024**3
    assert o.ooo_window_seconds == 600.0
    assert o.max_line_bytes == 1024
    assert o.max_labels_per_series == 5
    assert o.max_active_series == 7
    assert o.head_max_bytes == 1024**2
    assert o.block_duration_seconds == 1800.0
    always = load_settings(None, {}, {"fsync": "always"}).storage_options()
    assert always.fsync is FsyncMode.ALWAYS


# --- sources and precedence ----------------------------------------------------------------


def test_precedence_file_env_flag(tmp_path: Path) -> None:
    path = write(tmp_path, "retention: 1d\nretention_size: 1GiB\nlog_level: warning\nmax_active_series: 10\n")
    env = {"HERON_RETENTION_SIZE": "2GiB", "HERON_LOG_LEVEL": "error", "PATH": "/usr/bin"}
    flags = {"log_level": "debug", "block_duration": None}
    s = load_settings(path, env, flags)
    assert s.retention == 86400.0  # file only
    assert s.max_active_series == 10  # file only, given as a YAML int
    assert s.retention_size == 2 * 1024**3  # env beats file
    assert s.log_level == "debug"  # flag beats env and file
    assert s.block_duration == 7200.0  # None flag = not given: default


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing set\n")
    assert load_settings(path, {}, {}) == load_settings(None, {}, {})


def test_yaml_numbers_are_read_as_their_text(tmp_path: Path) -> None:
    path = write(tmp_path, "retention_size: 1048576\nooo_window: 0\nmax_labels_per_series: 8\n")
    s = load_settings(path, {}, {})
    assert (s.retention_size, s.ooo_window, s.max_labels_per_series) == (1048576, 0.0, 8)


def test_bad_value_in_file_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "retention: 15x\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    message = assert_one_line(info.value, "retention")
    assert message == (
        'config error: retention: invalid duration "15x": '
        f"want e.g. 15d, 1h30m or 500ms; units are y w d h m s ms (from {path})"
    )


def test_bad_value_in_env_names_key_and_var() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"HERON_MAX_LINE_SIZE": "huge"}, {})
    message = assert_one_line(info.value, "max_line_size")
    assert message.endswith("(from env HERON_MAX_LINE_SIZE)")


@pytest.mark.parametrize("text", ["fsync: true\n", "fsync:\n", "fsync: [1s]\n", "fsync: {a: 1}\n"])
def test_wrong_yaml_type(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    assert_one_line(info.value, "fsync")


def test_unknown_yaml_key(tmp_path: Path) -> None:
    path = write(tmp_path, "retention: 1d\nretenton_size: 1GiB\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    message = assert_one_line(info.value, "retenton_size")
    assert "unknown setting" in message and "did you mean retention_size?" in message
    assert message.endswith(f"(from {path})")


def test_dashed_yaml_key_is_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, "data-dir: /x\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    assert "did you mean data_dir?" in assert_one_line(info.value, "data-dir")


def test_non_string_yaml_key(tmp_path: Path) -> None:
    path = write(tmp_path, "1: 2\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    assert "setting names must be strings" in str(info.value)


def test_unknown_env_var() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"HERON_RETENTON": "1d", "HOME": "/root"}, {})
    message = assert_one_line(info.value, "HERON_RETENTON")
    assert "did you mean HERON_RETENTION?" in message
    assert message.endswith("(from environment)")


def test_unrelated_env_vars_are_ignored() -> None:
    assert load_settings(None, {"HOME": "/root", "XHERON_X": "1", "heron_x": "1"}, {}).retention == 15 * 86400


def test_unknown_flag_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {}, {"retenton": "1d"})
    assert_one_line(info.value, "retenton")


def test_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    message = assert_one_line(info.value, "config")
    assert "cannot read file: No such file or directory" in message
    assert message.endswith(f"(from {path})")


def test_directory_as_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(str(tmp_path), {}, {})
    assert "cannot read file" in assert_one_line(info.value, "config")


def test_not_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"retention: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), {}, {})
    assert "not UTF-8" in assert_one_line(info.value, "config")


@pytest.mark.parametrize(
    ("text", "kind"), [("- retention\n- 1d\n", "list"), ("just a string\n", "str"), ("42\n", "int")]
)
def test_yaml_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    message = assert_one_line(info.value, "config")
    assert f"want a mapping of settings, got a {kind}" in message


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "retention: 1d\n  bad: [indent\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    message = assert_one_line(info.value, "config")
    assert "invalid YAML at line" in message


def test_values_are_quoted_safely_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"HERON_RETENTION": "1d\nlog_level: debug"}, {})
    message = assert_one_line(info.value, "retention")
    assert '"1d\\nlog_level: debug"' in message


def test_exported_names() -> None:
    """Pin the public API so a rename is a deliberate change."""
    assert sorted(config.__all__) == sorted(
        [
            "ConfigError",
            "Setting",
            "SETTINGS",
            "Settings",
            "load_settings",
            "load_prom_config",
            "PROM_SECTION_KEYS",
            "parse_duration",
            "parse_size",
            "parse_listen",
            "split_host_port",
            "ENV_PREFIX",
            "LOG_LEVELS",
            "LOG_FORMATS",
        ]
    )
    for name in config.__all__:
        assert hasattr(config, name), name
