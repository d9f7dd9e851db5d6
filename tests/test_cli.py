"""The `heron` command line as users run it (a real subprocess), and the log formatters."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import heron
from heron import cli
from heron.config import SETTINGS
from heron.logsetup import JsonFormatter, LogfmtFormatter, log_fields, setup_logging

SRC = Path(__file__).resolve().parents[1] / "src"


def run_heron(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m heron` against this checkout's source with no HERON_* from the caller."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), base.get("PYTHONPATH")]))
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "heron", *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_help() -> None:
    result = run_heron("--help")
    assert result.returncode == 0
    assert "usage: heron" in result.stdout
    assert "server" in result.stdout and "version" in result.stdout


def test_server_help_lists_a_flag_per_setting() -> None:
    result = run_heron("server", "--help")
    assert result.returncode == 0
    for setting in SETTINGS:
        assert setting.flag in result.stdout
    assert "--config" in result.stdout


def test_version() -> None:
    result = run_heron("version")
    assert result.returncode == 0
    assert result.stdout == f"heron {heron.__version__}\n"
    assert heron.__version__ == "0.1.0"


def test_no_command_is_a_usage_error() -> None:
    result = run_heron()
    assert result.returncode == 2
    assert "usage: heron" in result.stderr


def test_bad_flag_value_exits_2_with_one_line() -> None:
    result = run_heron("server", "--retention", "15x", "--data-dir", "/nonexistent/never-created")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('heron: config error: retention: invalid duration "15x"')
    assert lines[0].endswith("(from flag --retention)")


def test_unknown_flag_is_a_usage_error() -> None:
    result = run_heron("server", "--no-such-flag")
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in result.stderr


def test_bad_config_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "heron.yaml"
    path.write_text("retention: 1d\nmax_line_size: big\n", encoding="utf-8")
    result = run_heron("server", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'heron: config error: max_line_size: invalid size "big": '
        f"want e.g. 256KiB, 512MiB, 10GB or a number of bytes (from {path})"
    ]


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    result = run_heron("server", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"heron: config error: config: cannot read file: No such file or directory (from {path})"
    ]


def test_unknown_env_var_exits_2() -> None:
    result = run_heron("server", env={"HERON_RETENTON": "1d"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "heron: config error: HERON_RETENTON: unknown setting (did you mean HERON_RETENTION?) "
        "(from environment)"
    ]


@pytest.mark.parametrize(
    ("mode", "where"),
    [("kubeconfig", "absent-kubeconfig"), ("in-cluster", "/var/run/secrets/kubernetes.io/serviceaccount")],
)
def test_agent_without_the_kubernetes_config_it_was_told_to_use_exits_2(
    tmp_path: Path, mode: str, where: str
) -> None:
    if mode == "in-cluster" and os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token"):
        pytest.skip("running inside a cluster")
    result = run_heron(
        "agent",
        "--kube",
        mode,
        "--pods-dir",
        str(tmp_path),
        "--state-dir",
        str(tmp_path / "state"),
        env={"KUBECONFIG": str(tmp_path / "absent-kubeconfig")},
    )
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"heron: kube={mode}: cannot load the Kubernetes config from ")
    assert where in last


def test_main_returns_exit_codes_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out == "heron 0.1.0\n"
    assert cli.main(["--help"]) == 0
    assert cli.main(["bogus"]) == 2


# --- log formatting ------------------------------------------------------------------------

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def emit(fmt: str, level: str = "debug") -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    setup_logging(level, fmt, stream=stream)
    return stream, logging.getLogger("heron.storage")


@pytest.mark.usefixtures("restore_root_logger")
def test_logfmt_line() -> None:
    stream, log = emit("logfmt")
    log.info("opened", extra=log_fields(key="value", records=10, ratio=0.5, ok=True, none=None))
    line = stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert re.fullmatch(
        rf'ts={TS} level=info logger=heron.storage msg="opened" '
        r"key=value records=10 ratio=0.5 ok=true none=null\n",
        line,
    ), line


@pytest.mark.usefixtures("restore_root_logger")
def test_logfmt_quoting() -> None:
    stream, log = emit("logfmt")
    log.warning(
        'said "hi"\nthere',
        extra=log_fields(
            path="/a b/c", eq="a=b", quote='x"y', empty="", back="a\\b", tab="a\tb", data=b"raw"
        ),
    )
    line = stream.getvalue().rstrip("\n")
    assert "\n" not in line
    assert r'level=warning logger=heron.storage msg="said \"hi\"\nthere"' in line
    assert 'path="/a b/c"' in line
    assert 'eq="a=b"' in line
    assert r'quote="x\"y"' in line
    assert 'empty=""' in line
    assert r'back="a\\b"' in line
    assert r'tab="a\tb"' in line
    assert " data=raw" in line


@pytest.mark.usefixtures("restore_root_logger")
def test_logfmt_reserved_field_names_do_not_overwrite() -> None:
    stream, log = emit("logfmt")
    log.info("m", extra=log_fields(msg="other", level="x"))
    line = stream.getvalue()
    assert 'msg="m"' in line and "msg_=other" in line
    assert "level=info" in line and "level_=x" in line


@pytest.mark.usefixtures("restore_root_logger")
def test_logfmt_exception_stays_on_one_line() -> None:
    stream, log = emit("logfmt")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert 'exc="Traceback (most recent call last):\\n' in line
    assert "RuntimeError: boom" in line


@pytest.mark.usefixtures("restore_root_logger")
def test_json_line() -> None:
    stream, log = emit("json")
    fields = log_fields(records=10, path="/a b", nan=float("nan"), tags=("a", 1))
    log.error("wal replayed %d", 3, extra=fields)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert re.fullmatch(TS, obj.pop("ts"))
    assert obj == {
        "level": "error",
        "logger": "heron.storage",
        "msg": "wal replayed 3",
        "records": 10,
        "path": "/a b",
        "nan": "nan",
        "tags": ["a", 1],
    }


@pytest.mark.usefixtures("restore_root_logger")
def test_json_exception() -> None:
    stream, log = emit("json")
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("failed", extra=log_fields(msg="shadow"))
    obj = json.loads(stream.getvalue())
    assert obj["msg"] == "failed" and obj["msg_"] == "shadow"
    assert obj["exc"].startswith("Traceback") and obj["exc"].endswith("ValueError: bad")


@pytest.mark.usefixtures("restore_root_logger")
def test_level_filtering_and_reconfiguration() -> None:
    stream, log = emit("logfmt", level="warning")
    log.info("hidden")
    log.warning("shown")
    assert "hidden" not in stream.getvalue() and "shown" in stream.getvalue()
    stream2, log = emit("json", level="info")  # replaces the first handler, no duplicates
    log.info("once")
    assert "once" not in stream.getvalue()
    assert len(stream2.getvalue().splitlines()) == 1


def test_setup_logging_rejects_unknown_values() -> None:
    with pytest.raises(ValueError):
        setup_logging("verbose", "logfmt")
    with pytest.raises(ValueError):
        setup_logging("info", "xml")


def test_formatters_without_fields() -> None:
    record = logging.LogRecord("heron.x", logging.DEBUG, __file__, 1, "plain", None, None)
    assert LogfmtFormatter().format(record).endswith('level=debug logger=heron.x msg="plain"')
    assert json.loads(JsonFormatter().format(record))["msg"] == "plain"


@pytest.mark.usefixtures("restore_root_logger")
def test_http_client_request_lines_stay_out_of_info_logs() -> None:
    stream, _ = emit("logfmt", level="info")
    logging.getLogger("httpx").info('HTTP Request: POST http://heron:9500/loki/api/v1/push "HTTP/1.1 204"')
    logging.getLogger("httpx").warning("something is wrong")
    assert "HTTP Request" not in stream.getvalue() and "something is wrong" in stream.getvalue()
    stream, _ = emit("logfmt", level="debug")
    logging.getLogger("httpx").info("HTTP Request: POST")
    assert "HTTP Request" in stream.getvalue()
