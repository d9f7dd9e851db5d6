"""Typed, strict reading of YAML mappings, with the key path of every value kept for errors.

Prometheus decodes its configuration with `yaml.UnmarshalStrict`: unknown keys and repeated
keys are errors, a scalar of the wrong kind is an error, and an explicit `null` means the
field's zero value (not its default). `Fields` gives the section parsers exactly that, one
mapping at a time, and raises `ConfigError` with the full key path
(`scrape_configs[2].relabel_configs[0].action`) so the operator sees which line to fix.

Go's decoder also gives a string field the scalar's text as written: `replacement: 010` is
"010", `target_label: on` is "on". PyYAML would turn those into 8 and True, so
`load_strict_yaml` builds numbers and booleans as `YamlInt`, `YamlFloat` and `YamlBool`, which
remember their text, and `scalar_text` hands it back wherever a string is wanted.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import NoReturn

import yaml

from heron.config import ConfigError, parse_duration

__all__ = [
    "Fields",
    "YamlBool",
    "YamlFloat",
    "YamlInt",
    "fail",
    "index",
    "join",
    "load_strict_yaml",
    "parse_base2_bytes",
    "scalar_text",
    "type_name",
]


class YamlInt(int):
    """An int from YAML that remembers how it was written."""

    yaml_text: str


class YamlFloat(float):
    """A float from YAML that remembers how it was written."""

    yaml_text: str


class YamlBool(int):
    """A boolean from YAML (bool cannot be subclassed) that remembers how it was written."""

    yaml_text: str

    def __repr__(self) -> str:
        return "True" if self else "False"


def _is_bool(value: object) -> bool:
    return isinstance(value, (bool, YamlBool))


def scalar_text(value: object) -> str | None:
    """A YAML scalar as Go's decoder puts it into a string: its text as written; None for
    null, lists and mappings."""
    text = getattr(value, "yaml_text", None)
    if text is not None:
        return str(text)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def join(path: str, key: str) -> str:
    """The key path of `key` inside the mapping at `path`."""
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def fail(path: str, problem: str, source: str) -> NoReturn:
    raise ConfigError(path or "config", problem, source)


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if _is_bool(value):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Fields:
    """One YAML mapping at `path`: refuses keys outside `allowed`, then reads typed values.

    Getters return the default when the key is absent and the type's zero value when it is
    present but null, as Go's YAML decoder does.
    """

    def __init__(self, value: object, path: str, source: str, allowed: Iterable[str]) -> None:
        if not isinstance(value, Mapping):
            fail(path, f"want a mapping, got a {type_name(value)}", source)
        self.path = path
        self.source = source
        self.data: Mapping[object, object] = value
        known = list(allowed)
        for key in value:
            if not isinstance(key, str):
                fail(join(path, str(key)), "keys must be strings", source)
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                fail(join(path, key), "unknown field" + hint, source)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> object:
        return self.data.get(key)

    def at(self, key: str) -> str:
        return join(self.path, key)

    def fail(self, key: str, problem: str) -> NoReturn:
        fail(self.at(key) if key else self.path, problem, self.source)

    def string(self, key: str, default: str = "") -> str:
        if key not in self.data:
            return default
        value = self.data[key]
        if value is None:
            return ""
        text = scalar_text(value)
        if text is None:
            self.fail(key, f"want a string, got a {type_name(value)}")
        return text

    def boolean(self, key: str, default: bool = False) -> bool:
        if key not in self.data:
            return default
        value = self.data[key]
        if value is None:
            return False
        if not _is_bool(value):
            self.fail(key, f"want true or false, got {_describe(value)}")
        return bool(value)

    def uint(self, key: str, default: int = 0) -> int:
        value = self.integer(key, default)
        if value < 0:
            self.fail(key, f"want a number of at least 0, got {value}")
        return value

    def integer(self, key: str, default: int = 0) -> int:
        if key not in self.data:
            return default
        value = self.data[key]
        if value is None:
            return 0
        if _is_bool(value) or not isinstance(value, int):
            self.fail(key, f"want a whole number, got {_describe(value)}")
        return int(value)

    def duration(self, key: str, default: float = 0.0) -> float:
        """A Prometheus duration (`15s`, `1m30s`); float seconds."""
        if key not in self.data:
            return default
        value = self.data[key]
        if value is None:
            return 0.0
        text = scalar_text(value)
        if text is None:
            self.fail(key, f"want a duration like 15s, got a {type_name(value)}")
        if text == "":
            self.fail(key, "empty duration string")
        try:
            if text != text.strip():
                raise ValueError(text)
            seconds = parse_duration(text)
        except ValueError:
            self.fail(key, f"not a valid duration string: {_quote(text)}")
        if seconds >= 2**63 / 1e9:  # Go's time.Duration, int64 nanoseconds
            self.fail(key, "duration out of range")
        return seconds

    def size(self, key: str, default: int = 0) -> int:
        """A byte size in Prometheus' `units.Base2Bytes` syntax (`10MB` = 10 MiB); int bytes."""
        if key not in self.data:
            return default
        value = self.data[key]
        if value is None:
            return 0
        text = scalar_text(value)
        if text is None:
            self.fail(key, f"want a size like 10MB, got a {type_name(value)}")
        try:
            return parse_base2_bytes(text)
        except ValueError as exc:
            self.fail(key, str(exc))

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(key, f"want a list of strings, got a {type_name(value)}")
        out: list[str] = []
        for i, item in enumerate(value):
            text = scalar_text(item)
            if text is None:
                fail(index(self.at(key), i), f"want a string, got a {type_name(item)}", self.source)
            out.append(text)
        return tuple(out)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"want a mapping of strings, got a {type_name(value)}")
        out: dict[str, str] = {}
        for k, v in value.items():
            name = scalar_text(k)
            path = join(self.at(key), str(name if name is not None else k))
            if name is None:
                fail(path, "keys must be strings", self.source)
            if v is None:
                out[name] = ""
                continue
            text = scalar_text(v)
            if text is None:
                fail(path, f"want a string, got a {type_name(v)}", self.source)
            out[name] = text
        return out

    def items(self, key: str) -> list[tuple[str, object]]:
        """The elements of a list value with their key paths; absent or null is empty."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"want a list, got a {type_name(value)}")
        return [(index(self.at(key), i), item) for i, item in enumerate(value)]


def _describe(value: object) -> str:
    if isinstance(value, str):
        return _quote(value) if len(value) <= 60 else "a string"
    text = scalar_text(value)
    return f"a {type_name(value)}" if text is None or _is_bool(value) else text


# alecthomas/units.ParseBase2Bytes: number-and-unit pairs, every unit a power of 1024
# ("1KB" = "1KiB" = 1024); "0" alone needs no unit.
_BASE2_UNITS = {"B": 1}
for _i, _p in enumerate("KMGTPE", start=1):
    _BASE2_UNITS[_p + "B"] = 1024**_i
    _BASE2_UNITS[_p + "iB"] = 1024**_i
_BASE2_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)([A-Za-z]*)")


def parse_base2_bytes(text: str) -> int:
    if text == "0":
        return 0
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if not s:
        raise ValueError(f"invalid size {_quote(text)}: want e.g. 512MB or 1GiB")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _BASE2_RE.match(s, pos)
        assert m is not None  # the pattern can match the empty string
        number, unit = m.group(1), m.group(2)
        if number in ("", "."):
            raise ValueError(f"invalid size {_quote(text)}: want e.g. 512MB or 1GiB")
        if unit == "":
            raise ValueError(f"invalid size {_quote(text)}: missing unit (B, KB, MB, GB, TB, PB, EB)")
        if unit not in _BASE2_UNITS:
            raise ValueError(f"invalid size {_quote(text)}: unknown unit {unit} (B, KB, MB, GB, TB, PB, EB)")
        total += float(number) * _BASE2_UNITS[unit]
        pos = m.end()
    if sign < 0 or not math.isfinite(total) or total >= 2**63:
        raise ValueError(f"invalid size {_quote(text)}: out of range")
    return int(total)


# --------------------------------------------------------------------------------------------
# Loading: PyYAML keeps the last of repeated keys silently; Go's strict decoder refuses them.


# libyaml's parser when PyYAML has it: a 100k-target file_sd YAML file parses about 5x faster.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader whose numbers and booleans remember their text (a class of our own, so
    PyYAML's global loaders are never changed)."""


def _remembering(kind: type, construct: object) -> object:
    def build(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
        value = construct(loader, node)  # type: ignore[operator]
        out = kind(value)
        out.yaml_text = node.value
        return out

    return build


_Loader.add_constructor("tag:yaml.org,2002:int", _remembering(YamlInt, yaml.SafeLoader.construct_yaml_int))
_Loader.add_constructor(
    "tag:yaml.org,2002:float", _remembering(YamlFloat, yaml.SafeLoader.construct_yaml_float)
)
_Loader.add_constructor("tag:yaml.org,2002:bool", _remembering(YamlBool, yaml.SafeLoader.construct_yaml_bool))


def load_strict_yaml(text: str, source: str) -> object:
    """Parse YAML text like `yaml.safe_load`, but a mapping that repeats a key is an error
    naming the key path of the repeat."""
    try:
        loader = _Loader(text)  # the reader refuses control characters here already
    except yaml.YAMLError as exc:
        fail("config", f"invalid YAML: {getattr(exc, 'problem', None) or exc}", source)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            where = ""
            mark = getattr(exc, "problem_mark", None)
            if mark is not None:
                where = f" at line {mark.line + 1}, column {mark.column + 1}"
            problem = getattr(exc, "problem", None) or str(exc)
            fail("config", f"invalid YAML{where}: {problem}", source)
        if node is None:
            return None
        _check_duplicates(node, "", source, set())
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            fail("config", f"invalid YAML: {getattr(exc, 'problem', None) or exc}", source)
    finally:
        loader.dispose()


def _check_duplicates(node: yaml.Node, path: str, source: str, seen: set[int]) -> None:
    if id(node) in seen:  # an alias: already checked where it was anchored
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                if key_node.tag != "tag:yaml.org,2002:merge":
                    if key in keys:
                        line = key_node.start_mark.line + 1
                        fail(
                            join(path, key),
                            f"mapping key {_quote(key)} already defined (line {line})",
                            source,
                        )
                    keys.add(key)
                _check_duplicates(value_node, join(path, key), source, seen)
            else:
                _check_duplicates(value_node, path, source, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, index(path, i), source, seen)
