"""FileSD on real files: JSON and YAML, `__meta_filepath`, changes picked up by polling, a bad
file keeping its last good groups, deleted files taking their groups away, bounded reads."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from heron.collect.metrics.discovery import Discoverer
from heron.collect.metrics.filesd import MAX_FILE_BYTES, FileSD, parse_target_groups
from heron.promconfig import FileSDConfig


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _addresses(sd: FileSD) -> list[str]:
    return sorted(t["__address__"] for g in sd.groups() for t in g.targets)


@pytest.fixture
def sd_dir(tmp_path: Path) -> Path:
    (tmp_path / "a.json").write_text('[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}]')
    (tmp_path / "b.yml").write_text("- targets: [c:3]\n- targets: [d]\n  labels: {team: x}\n")
    return tmp_path


def test_reads_json_and_yaml_with_prometheus_sources(sd_dir: Path) -> None:
    sd: Discoverer = FileSD(FileSDConfig(files=("*.json", "b.yml")), str(sd_dir))
    assert isinstance(sd, FileSD)
    sd.start()
    try:
        groups = {g.source: g for g in sd.groups()}
        a, b0, b1 = str(sd_dir / "a.json"), str(sd_dir / "b.yml"), str(sd_dir / "b.yml")
        assert sorted(groups) == [f"{a}:0", f"{b0}:0", f"{b1}:1"]
        assert groups[f"{a}:0"].labels == {"env": "prod", "__meta_filepath": a}
        assert groups[f"{a}:0"].targets == ({"__address__": "a:1"}, {"__address__": "b:2"})
        assert groups[f"{b1}:1"].labels == {"team": "x", "__meta_filepath": b1}
        assert sd.version >= 1
        assert sd.last_error is None
    finally:
        sd.stop()


def test_changes_are_picked_up_and_a_bad_file_keeps_its_groups(sd_dir: Path) -> None:
    sd = FileSD(FileSDConfig(files=("*.json", "*.yml")), str(sd_dir), check_interval=0.02)
    sd.start()
    try:
        assert _addresses(sd) == ["a:1", "b:2", "c:3", "d"]
        v = sd.version
        (sd_dir / "a.json").write_text('[{"targets": ["a:1", "e:5"]}]')
        _wait(lambda: sd.version > v)
        assert _addresses(sd) == ["a:1", "c:3", "d", "e:5"]

        v = sd.version
        (sd_dir / "a.json").write_text('[{"targets": ["a:1", ')  # truncated mid-write
        _wait(lambda: sd.last_error is not None)
        assert "a.json" in sd.last_error and "invalid JSON" in sd.last_error
        assert sd.version == v and _addresses(sd) == ["a:1", "c:3", "d", "e:5"]

        (sd_dir / "a.json").write_text('[{"targets": ["f:6"]}]')
        _wait(lambda: sd.last_error is None and "f:6" in _addresses(sd))

        v = sd.version
        os.remove(sd_dir / "b.yml")
        _wait(lambda: sd.version > v)
        assert _addresses(sd) == ["f:6"]

        v = sd.version
        (sd_dir / "new.yml").write_text("- targets: [g:7]\n")
        _wait(lambda: sd.version > v)
        assert _addresses(sd) == ["f:6", "g:7"]
    finally:
        sd.stop()


def test_refresh_interval_rereads_unchanged_stamps(sd_dir: Path) -> None:
    """A full re-read each refresh_interval catches a change the (mtime, size, inode) stamp
    misses, as when a file is rewritten to the same size within one mtime tick."""
    path = sd_dir / "a.json"
    sd = FileSD(FileSDConfig(files=("a.json",), refresh_interval=0.2), str(sd_dir), check_interval=0.02)
    sd.start()
    try:
        assert _addresses(sd) == ["a:1", "b:2"]
        st = os.stat(path)
        same_size = '[{"targets": ["x:1", "y:2"], "labels": {"env": "test"}}]'
        assert len(same_size) == st.st_size
        path.write_text(same_size)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        now = os.stat(path)
        assert (now.st_mtime_ns, now.st_size, now.st_ino) == (st.st_mtime_ns, st.st_size, st.st_ino)
        _wait(lambda: _addresses(sd) == ["x:1", "y:2"])
    finally:
        sd.stop()


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("a.json", '{"targets": []}', "want a list of target groups"),
        ("a.json", "[null]", "nil target group item found"),
        ("a.json", '[{"targets": ["a"], "lables": {}}]', "unknown field lables"),
        ("a.json", '[{"targets": ["a"], "labels": {"a-b": "x"}}]', '"a-b" is not a valid label name'),
        ("a.json", '[{"targets": [1]}]', "want a string"),
        ("a.json", '[{"targets": ["a"], "labels": {"x": 1}}]', "want a string"),
        ("a.yml", "- targets: a\n", "want a list"),
        ("a.yml", "- targets: [a]\n  targets: [b]\n", "already defined"),
        ("a.yml", "- {targets: [a], labels: {x: [1]}}\n", "want a string"),
        ("a.yml", b"\xff\xfe".decode("latin-1"), "not UTF-8"),
        ("a.txt", "[]", "invalid file extension"),
    ],
)
def test_bad_files_say_what_is_wrong(name: str, body: str, problem: str) -> None:
    data = body.encode("latin-1") if "\xff" in body else body.encode()
    with pytest.raises(ValueError, match=problem):
        parse_target_groups(data, name)


def test_yaml_scalars_read_as_their_text() -> None:
    groups = parse_target_groups(
        b"- targets: [host:9100]\n  labels: {port: 9100, enabled: true, empty: }\n", "a.yml"
    )
    assert groups[0].labels == {"port": "9100", "enabled": "true", "empty": "", "__meta_filepath": "a.yml"}
    assert parse_target_groups(b"", "a.yaml") == []


def test_a_huge_file_is_refused_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    sd = FileSD(FileSDConfig(files=("big.json",)), str(tmp_path))
    assert sd.refresh(force=True) is False
    assert sd.groups() == [] and sd.last_error is not None and "at most" in sd.last_error


def test_aliases_cannot_expand_a_small_file_without_bound() -> None:
    first = "- targets: &t [" + ", ".join(f'"h{i}:1"' for i in range(1000)) + "]\n"
    again = "- {targets: *t}\n" * 1000  # 1,001,000 targets from a file of 30 KB
    with pytest.raises(ValueError, match="at most"):
        parse_target_groups((first + again).encode(), "a.yml")


def test_stop_returns_promptly(sd_dir: Path) -> None:
    sd = FileSD(FileSDConfig(files=("*.json",)), str(sd_dir))
    sd.start()
    started = time.monotonic()
    sd.stop()
    assert time.monotonic() - started < 5
