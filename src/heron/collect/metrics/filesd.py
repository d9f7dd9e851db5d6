"""`file_sd_configs`: target groups from JSON or YAML files, as Prometheus' `discovery/file`.

Each file holds a list of `{targets: [...], labels: {...}}` groups. Every group gets the label
`__meta_filepath` (the file's path) and the source `<path>:<index>`, exactly as Prometheus
names them, so `discoveredLabels` in the targets API match.

Prometheus watches with inotify and re-reads everything every `refresh_interval`. Heron polls
instead, which works the same on every filesystem (ConfigMap volumes swap a symlink, which
inotify on the file misses): each second it globs the patterns and compares each file's
(mtime, size, inode) with what it read, re-reading only what changed; every
`refresh_interval` it re-reads all. A file that cannot be read or parsed keeps its last good
groups (as Prometheus does) and the problem is kept in `last_error`; a file that disappears
takes its groups with it.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import threading
import time
from collections.abc import Mapping

from heron.collect.metrics.discovery import TargetGroup
from heron.config import ConfigError
from heron.logsetup import log_fields
from heron.promconfig.fields import load_strict_yaml, scalar_text
from heron.promconfig.httpclient import join_dir
from heron.promconfig.relabel import is_label_name
from heron.promconfig.types import FileSDConfig

__all__ = ["FileSD", "MAX_FILE_BYTES", "MAX_FILE_TARGETS", "parse_target_groups"]

log = logging.getLogger("heron.collect.metrics.filesd")

FILEPATH_LABEL = "__meta_filepath"
MAX_FILE_BYTES = 16 * 1024 * 1024  # a target file larger than this is an error, not a memory spike
# YAML aliases can repeat one list of targets in many groups: a small file could otherwise
# expand into any number of targets.
MAX_FILE_TARGETS = 1_000_000
_CHECK_SECONDS = 1.0

_Stamp = tuple[int, int, int]


def parse_target_groups(data: bytes, filename: str) -> list[TargetGroup]:
    """The groups of one file's bytes (JSON or YAML, by the name's extension), each labelled
    with `__meta_filepath`. Raises ValueError saying what is wrong."""
    ext = os.path.splitext(filename)[1].lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text at byte {exc.start}") from None
    if ext == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    elif ext in (".yml", ".yaml"):
        try:
            raw = load_strict_yaml(text, filename)
        except ConfigError as exc:
            raise ValueError(exc.problem) from None
    else:
        raise ValueError(f'invalid file extension: "{ext}"')
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("want a list of target groups")
    total = sum(
        len(item["targets"])
        for item in raw
        if isinstance(item, Mapping) and isinstance(item.get("targets"), list)
    )
    if total > MAX_FILE_TARGETS:
        raise ValueError(f"{total} targets in one file; at most {MAX_FILE_TARGETS}")
    groups = []
    for i, item in enumerate(raw):
        if item is None:
            raise ValueError("nil target group item found")
        groups.append(_group(item, i, filename, ext == ".json"))
    return groups


def _group(item: object, i: int, filename: str, strict_strings: bool) -> TargetGroup:
    where = f"group {i}"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: want a mapping with targets and labels")
    unknown = [str(k) for k in item if k not in ("targets", "labels")]
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]}")
    targets = _strings(item.get("targets"), f"{where}.targets", strict_strings)
    labels: dict[str, str] = {}
    raw_labels = item.get("labels")
    if raw_labels is not None:
        if not isinstance(raw_labels, Mapping):
            raise ValueError(f"{where}.labels: want a mapping of label names to values")
        for key, value in raw_labels.items():
            name = key if isinstance(key, str) else scalar_text(key)
            if name is None or not is_label_name(name):
                raise ValueError(f'{where}.labels: "{key}" is not a valid label name')
            labels[name] = _scalar(value, f"{where}.labels.{name}", strict_strings)
    labels[FILEPATH_LABEL] = filename
    return TargetGroup(
        source=f"{filename}:{i}",
        targets=tuple({"__address__": t} for t in targets),
        labels=labels,
    )


def _scalar(value: object, where: str, strict_strings: bool) -> str:
    """A label value or target: JSON wants a string; YAML takes any scalar as its text."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    text = None if strict_strings else scalar_text(value)
    if text is None:
        raise ValueError(f"{where}: want a string")
    return text


def _strings(value: object, where: str, strict_strings: bool) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: want a list of host:port strings")
    return [_scalar(v, f"{where}[{j}]", strict_strings) for j, v in enumerate(value)]


class FileSD:
    """One `file_sd_configs` entry; implements `heron.collect.metrics.discovery.Discoverer`.

    `base_dir` is the directory of the config file: relative patterns are relative to it.
    `check_interval` is how often changed files are looked for (tests shorten it).
    """

    def __init__(self, cfg: FileSDConfig, base_dir: str, *, check_interval: float = _CHECK_SECONDS) -> None:
        self.patterns = tuple(join_dir(base_dir, p) for p in cfg.files)
        self.refresh_interval = cfg.refresh_interval if cfg.refresh_interval > 0 else 300.0
        self.check_interval = min(check_interval, self.refresh_interval)
        self._lock = threading.Lock()
        self._files: dict[str, tuple[_Stamp, list[TargetGroup]]] = {}
        self._errors: dict[str, str] = {}
        self._version = 0
        self._snapshot: list[TargetGroup] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.read_errors = 0  # files that failed to read or parse, counted each time

    # ---- Discoverer ------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._version

    def groups(self) -> list[TargetGroup]:
        with self._lock:
            return list(self._snapshot)

    def start(self) -> None:
        """Read the files once now (they are local), then keep watching in a thread."""
        if self._thread is not None:
            return
        self.refresh(force=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="heron-filesd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ---- work ------------------------------------------------------------------------------

    def _run(self) -> None:
        last_full = time.monotonic()
        while not self._stop.wait(self.check_interval):
            full = time.monotonic() - last_full >= self.refresh_interval
            if full:
                last_full = time.monotonic()
            try:
                self.refresh(force=full)
            except Exception:  # a bug must not end discovery silently; the next pass retries
                log.exception("file discovery pass failed")

    def _list_files(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.patterns:
            found.update(p for p in glob.glob(pattern, include_hidden=True) if os.path.isfile(p))
        return sorted(found)

    def refresh(self, force: bool = False) -> bool:
        """One pass: re-read changed files (all of them when `force`); True if groups changed."""
        files = self._list_files()
        changed = False
        current: dict[str, tuple[_Stamp, list[TargetGroup]]] = {}
        errors: dict[str, str] = {}
        for path in files:
            previous = self._files.get(path)
            try:
                st = os.stat(path)
            except OSError as exc:
                errors[path] = f"{path}: {exc.strerror or exc}"
                if previous is not None:
                    current[path] = previous
                continue
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if previous is not None and previous[0] == stamp and not force and path not in self._errors:
                current[path] = previous
                continue
            try:
                groups = self._read(path, st.st_size)
            except (OSError, ValueError) as exc:
                message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                errors[path] = f"{path}: {message}"
                self.read_errors += 1
                if errors[path] != self._errors.get(path):
                    log.warning("cannot read target file", extra=log_fields(file=path, error=message))
                if previous is not None:
                    current[path] = previous  # keep the last good groups
                continue
            if previous is None or previous[1] != groups:
                changed = True
            current[path] = (stamp, groups)
        if set(current) != set(self._files):
            changed = True
        with self._lock:
            self._files = current
            self._errors = errors
            self.last_error = next(iter(errors.values()), None) if errors else None
            if changed or self._version == 0:
                self._snapshot = [g for _, (_, gs) in sorted(current.items()) for g in gs]
                self._version += 1
        return changed

    @staticmethod
    def _read(path: str, size: int) -> list[TargetGroup]:
        if size > MAX_FILE_BYTES:
            raise ValueError(f"file is {size} bytes; at most {MAX_FILE_BYTES} are read")
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"file grew past {MAX_FILE_BYTES} bytes while being read")
        return parse_target_groups(data, path)

    @property
    def errors(self) -> dict[str, str]:
        """The current problem of each file that has one."""
        with self._lock:
            return dict(self._errors)
