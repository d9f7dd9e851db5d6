"""Config tables judged by the real `promtool check config` (Prometheus 2.42) and by heron.

`bad_configs.yaml`: promtool must refuse each one (exit non-zero) and heron must raise one
ConfigError naming the expected key path. `good_configs.yaml`: both accept, and heron's parsed
values are asserted. Cases marked `heron_only` are the documented divergences: promtool
accepts them, heron refuses them with a message saying what it does not support.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from heron.config import ConfigError, load_prom_config, load_settings

HERE = Path(__file__).parent
BAD = yaml.safe_load((HERE / "bad_configs.yaml").read_text())
GOOD = yaml.safe_load((HERE / "good_configs.yaml").read_text())
EXTENSIONS = yaml.safe_load((HERE / "heron_extensions.yaml").read_text())


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make test` installs Debian's prometheus package"
    return path


def _write(tmp_path: Path, case: dict[str, Any]) -> Path:
    for name in case.get("files", ()):
        (tmp_path / name).write_text("x\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(case["yaml"])
    return config


def _promtool_check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


@pytest.mark.parametrize("case", BAD, ids=_ids(BAD))
def test_bad_config(tmp_path: Path, case: dict[str, Any]) -> None:
    config = _write(tmp_path, case)
    result = _promtool_check(config)
    if case.get("heron_only"):
        assert result.returncode == 0, result.stdout + result.stderr
    elif case.get("promtool") == "no-kubernetes":
        assert result.returncode != 0
        assert "field kubernetes_sd_configs not found" in result.stdout + result.stderr
    else:
        assert result.returncode != 0, f"promtool accepted it:\n{result.stdout}"
    with pytest.raises(ConfigError) as info:
        load_prom_config(str(config))
    err = info.value
    assert err.key == case["key"], str(err)
    assert err.source == str(config)
    assert "\n" not in str(err)


def _lookup(obj: object, dotted: str) -> object:
    for part in dotted.replace("[", ".[").split("."):
        if part.startswith("["):
            obj = obj[int(part[1:-1])]  # type: ignore[index]
        elif isinstance(obj, dict):
            obj = obj[part]
        else:
            obj = getattr(obj, part)
    return obj


def _normalise(value: object) -> object:
    if isinstance(value, tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _in_dir(value: object, tmp_path: Path) -> object:
    """ "<dir>/x" in an expected value is the file x beside the config."""
    if isinstance(value, list):
        return [_in_dir(v, tmp_path) for v in value]
    if isinstance(value, str) and value.startswith("<dir>/"):
        return str(tmp_path / value[len("<dir>/") :])
    return value


@pytest.mark.parametrize("case", GOOD, ids=_ids(GOOD))
def test_good_config(tmp_path: Path, case: dict[str, Any]) -> None:
    config = _write(tmp_path, case)
    result = _promtool_check(config)
    assert result.returncode == 0, result.stdout + result.stderr
    parsed = load_prom_config(str(config))
    assert case["expect"], "a good case must assert something"
    for dotted, want in case["expect"].items():
        want = _in_dir(want, tmp_path)
        assert _normalise(_lookup(parsed, dotted)) == want, dotted


@pytest.mark.parametrize("case", EXTENSIONS, ids=_ids(EXTENSIONS))
def test_later_prometheus_keys(tmp_path: Path, case: dict[str, Any]) -> None:
    """Keys newer than 2.42 that Heron implements: 2.42's promtool refuses, heron accepts."""
    config = _write(tmp_path, case)
    result = _promtool_check(config)
    assert result.returncode != 0
    assert "not found in type" in result.stdout + result.stderr
    parsed = load_prom_config(str(config))
    for dotted, want in case["expect"].items():
        assert _normalise(_lookup(parsed, dotted)) == want, dotted


def test_settings_and_sections_share_one_file(tmp_path: Path) -> None:
    config = tmp_path / "heron.yaml"
    config.write_text(
        "listen: 127.0.0.1:9999\nglobal: {scrape_interval: 15s}\n"
        "scrape_configs: [{job_name: a}]\nremote_write: [{url: 'http://r:9090/api/v1/write'}]\n"
    )
    settings = load_settings(str(config), {}, {})
    assert settings.listen == "127.0.0.1:9999"
    parsed = load_prom_config(str(config))
    assert parsed.global_.scrape_interval == 15.0
    assert [c.job_name for c in parsed.scrape_configs] == ["a"]
    assert parsed.remote_write[0].url == "http://r:9090/api/v1/write"
    config.write_text("scrape_configs: [{job_name: a}]\nrule_filez: []\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(config), {}, {})
    assert info.value.key == "rule_filez"


def test_no_file_means_no_sections(tmp_path: Path) -> None:
    assert load_prom_config(None).scrape_configs == ()
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert load_prom_config(str(empty)).scrape_configs == ()
    flat = tmp_path / "flat.yaml"
    flat.write_text("listen: 127.0.0.1:1\n")
    assert load_prom_config(str(flat)).remote_write == ()
    with pytest.raises(ConfigError) as info:
        load_prom_config(str(tmp_path / "missing.yaml"))
    assert info.value.key == "config"
