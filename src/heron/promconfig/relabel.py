"""Relabeling with Prometheus' semantics: parsing a `relabel_configs` entry, and applying a list.

Everything follows `model/relabel/relabel.go` of Prometheus 2.42: the regex is anchored
(`^(?:regex)$`) and compiled as RE2 (Go's syntax, via google-re2), `$1`/`${1}`/`$name`
replacements expand as Go's `Regexp.ExpandString` does (including its surprises, such as `$1x`
naming a group "1x"), and each action validates the fields Prometheus validates.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence

import re2

from heron.promconfig.fields import Fields, fail
from heron.promconfig.types import RelabelConfig

__all__ = [
    "ACTIONS",
    "Program",
    "compile_regex",
    "expand",
    "is_label_name",
    "parse_relabel_config",
    "parse_relabel_configs",
    "program",
    "relabel",
]

ACTIONS = (
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
)

_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# relabel.go's relabelTarget: a label name that may hold $1 / ${name} references.
_RELABEL_TARGET_RE = re.compile(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+", re.ASCII)
_KEYS = ("source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action")
_DEFAULT = RelabelConfig()


def is_label_name(name: str) -> bool:
    return _LABEL_NAME_RE.fullmatch(name) is not None


def _go_syntax_problem(pattern: str) -> str | None:
    """What Go's regexp/syntax (Go 1.19, Prometheus 2.42's) refuses that RE2 itself accepts."""
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            if pattern[i + 1] == "C":
                return "invalid escape sequence: `\\C`"
            i += 2
            continue
        if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            return "invalid or unsupported Perl syntax: `(?<`"
        i += 1
    return None


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_TEST_OPTIONS = re2.Options()
_TEST_OPTIONS.log_errors = False
_TEST_OPTIONS.never_capture = True
_ANCHOR_BOTH = getattr(getattr(re2, "_Anchor", None), "ANCHOR_BOTH", None)


@functools.lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> re2._Regexp:
    """The anchored RE2 program for a relabel `regex`; ValueError with Go's wording if bad."""
    problem = _go_syntax_problem(pattern)
    if problem is None:
        try:
            return re2.compile("^(?:" + pattern + ")$", _OPTIONS)
        except re2.error as exc:
            detail = exc.args[0] if exc.args else exc
            problem = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    raise ValueError(f"error parsing regexp: {problem}")


class Program:
    """A compiled relabel `regex`: whole-string yes/no tests and capture groups.

    google-re2's Python `search` spends microseconds in Python around the C++ match; this asks
    RE2 directly (its pybind11 `Match`), which is 3x faster, and remembers yes/no answers for
    repeated strings (label names in labeldrop, labelkeep and labelmap repeat on every series).
    """

    __slots__ = ("names", "ngroups", "_regex", "_match", "_test_match", "_seen")

    def __init__(self, pattern: str) -> None:
        anchored = "^(?:" + pattern + ")$"
        self._regex = compile_regex(pattern)
        self.names: dict[str, int] = dict(self._regex.groupindex)
        self.ngroups: int = self._regex.groups
        native = getattr(self._regex, "_regexp", None)
        tester = getattr(re2.compile(anchored, _TEST_OPTIONS), "_regexp", None)
        usable = _ANCHOR_BOTH is not None and native is not None and tester is not None
        self._match = native.Match if usable else None
        self._test_match = tester.Match if usable else None
        self._seen: dict[str, bool] = {}

    def test(self, text: str) -> bool:
        known = self._seen.get(text)
        if known is not None:
            return known
        if self._test_match is None:
            result = self._regex.search(text) is not None
        else:
            data = text.encode("utf-8", "surrogatepass")
            result = self._test_match(_ANCHOR_BOTH, data, 0, len(data))[0][0] >= 0
        if len(self._seen) >= 4096:
            self._seen.clear()
        self._seen[text] = result
        return result

    def groups(self, text: str) -> list[str | None] | None:
        """Group 0 (the whole text) and every capture group, None for one that took no part;
        None when the text does not match."""
        if self._match is None:
            m = self._regex.search(text)
            return None if m is None else [m.group(i) for i in range(self.ngroups + 1)]
        data = text.encode("utf-8", "surrogatepass")
        spans = self._match(_ANCHOR_BOTH, data, 0, len(data))
        if spans[0][0] < 0:
            return None
        return [None if a < 0 else data[a:b].decode("utf-8", "surrogatepass") for a, b in spans]


@functools.lru_cache(maxsize=4096)
def program(pattern: str) -> Program:
    """The compiled, cached `Program` for a relabel `regex` (ValueError if it is bad)."""
    return Program(pattern)


def _extract(template: str, start: int) -> tuple[str, int, int] | None:
    """Go's regexp `extract`: the name after a `$` at `start`, its group number (-1 for a
    name), and where the rest begins; None when malformed."""
    i = start
    n = len(template)
    brace = i < n and template[i] == "{"
    if brace:
        i += 1
    name_start = i
    while i < n and (template[i].isalpha() or template[i].isdecimal() or template[i] == "_"):
        i += 1
    if i == name_start:
        return None
    name = template[name_start:i]
    if brace:
        if i >= n or template[i] != "}":
            return None
        i += 1
    num = -1
    if name.isascii() and name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
        num = int(name)
    return name, num, i


@functools.lru_cache(maxsize=4096)
def _template(template: str) -> tuple[str | int, ...]:
    """A replacement template split once into literal text (str) and group references: an
    int for a number, a 1-tuple holding the name for a named group."""
    parts: list[str | int | tuple[str]] = []
    pos = 0
    n = len(template)
    while pos < n:
        dollar = template.find("$", pos)
        if dollar < 0:
            break
        parts.append(template[pos:dollar])
        pos = dollar + 1
        if pos < n and template[pos] == "$":
            parts.append("$")
            pos += 1
            continue
        found = _extract(template, pos)
        if found is None:
            parts.append("$")
            continue
        name, num, pos = found
        parts.append(num if num >= 0 else (name,))
    parts.append(template[pos:])
    return tuple(p for p in parts if p != "")  # type: ignore[misc]


def expand(template: str, prog: Program, groups: Sequence[str | None]) -> str:
    """Go's `Regexp.ExpandString`: `$$` is `$`; `$n`, `${n}`, `$name`, `${name}` are groups
    (empty if absent or unmatched); a malformed reference keeps its `$` as text."""
    if "$" not in template:
        return template
    out: list[str] = []
    for part in _template(template):
        if isinstance(part, str):
            out.append(part)
            continue
        group = prog.names.get(part[0], -1) if isinstance(part, tuple) else part
        if 0 <= group <= prog.ngroups:
            value = groups[group]
            if value is not None:
                out.append(value)
    return "".join(out)


def parse_relabel_config(value: object, path: str, source: str) -> RelabelConfig:
    """One `relabel_configs` entry, validated as `relabel.Config.UnmarshalYAML` does."""
    if value is None:
        fail(path, "empty or null relabeling rule", source)
    f = Fields(value, path, source, _KEYS)
    source_labels = f.string_list("source_labels")
    for i, name in enumerate(source_labels):
        if not is_label_name(name):
            fail(f"{f.at('source_labels')}[{i}]", f'"{name}" is not a valid label name', source)
    regex = f.string("regex", _DEFAULT.regex)
    try:
        compile_regex(regex)
    except ValueError as exc:
        f.fail("regex", str(exc))
    modulus = f.uint("modulus")
    if modulus >= 2**64:
        f.fail("modulus", "out of range for an unsigned 64-bit integer")
    action_text = f.string("action", _DEFAULT.action)
    action = action_text.lower()
    if f.has("action") and action_text == "":
        f.fail("action", "relabel action cannot be empty")
    if action not in ACTIONS:
        f.fail("action", f'unknown relabel action "{action_text}"; want one of {", ".join(ACTIONS)}')
    cfg = RelabelConfig(
        source_labels=source_labels,
        separator=f.string("separator", _DEFAULT.separator),
        regex=regex,
        modulus=modulus,
        target_label=f.string("target_label"),
        replacement=f.string("replacement", _DEFAULT.replacement),
        action=action,
    )
    _validate(cfg, f)
    return cfg


def _validate(c: RelabelConfig, f: Fields) -> None:
    a = c.action
    if a == "hashmod" and c.modulus == 0:
        f.fail("modulus", "relabel configuration for hashmod requires non-zero modulus")
    needs_target = ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")
    if a in needs_target and c.target_label == "":
        f.fail("target_label", f"relabel configuration for {a} action requires 'target_label' value")
    templated = ("replace", "lowercase", "uppercase", "keepequal", "dropequal")
    if a in templated and not _RELABEL_TARGET_RE.fullmatch(c.target_label):
        f.fail("target_label", f"\"{c.target_label}\" is invalid 'target_label' for {a} action")
    if a in ("lowercase", "uppercase", "keepequal", "dropequal") and c.replacement != _DEFAULT.replacement:
        f.fail("replacement", f"'replacement' can not be set for {a} action")
    if a == "labelmap" and not _RELABEL_TARGET_RE.fullmatch(c.replacement):
        f.fail("replacement", f"\"{c.replacement}\" is invalid 'replacement' for {a} action")
    if a == "hashmod" and not is_label_name(c.target_label):
        f.fail("target_label", f"\"{c.target_label}\" is invalid 'target_label' for {a} action")
    if a in ("keepequal", "dropequal"):
        # Prometheus compares the regex by identity, so writing any regex at all is refused.
        changed = [
            k
            for k, bad in (
                ("regex", f.has("regex")),
                ("modulus", c.modulus != _DEFAULT.modulus),
                ("separator", c.separator != _DEFAULT.separator),
            )
            if bad
        ]
        if changed:
            f.fail(
                changed[0],
                f"{a} action requires only 'source_labels' and `target_label`, and no other fields",
            )
    if a in ("labeldrop", "labelkeep"):
        changed = [
            k
            for k, bad in (
                ("source_labels", f.raw("source_labels") is not None),
                ("target_label", c.target_label != _DEFAULT.target_label),
                ("modulus", c.modulus != _DEFAULT.modulus),
                ("separator", c.separator != _DEFAULT.separator),
                ("replacement", c.replacement != _DEFAULT.replacement),
            )
            if bad
        ]
        if changed:
            f.fail(changed[0], f"{a} action requires only 'regex', and no other fields")


def parse_relabel_configs(f: Fields, key: str, what: str) -> tuple[RelabelConfig, ...]:
    out: list[RelabelConfig] = []
    for path, item in f.items(key):
        if item is None:
            fail(path, f"empty or null {what} relabeling rule", f.source)
        out.append(parse_relabel_config(item, path, f.source))
    return tuple(out)


def _go_case(text: str, upper: bool) -> str:
    """Go's strings.ToLower/ToUpper map rune by rune (simple case mapping): a character whose
    full mapping has several characters (German sharp s) stays as it is."""
    mapped = text.upper() if upper else text.lower()
    if len(mapped) == len(text):
        return mapped
    out = []
    for ch in text:
        m = ch.upper() if upper else ch.lower()
        out.append(m if len(m) == 1 else ch)
    return "".join(out)


def _hashmod(value: str, modulus: int) -> int:
    digest = hashlib.md5(value.encode("utf-8"), usedforsecurity=False).digest()
    # relabel.go's sum64 shifts the first 8 bytes out of a uint64: the last 8 remain, big-endian.
    return int.from_bytes(digest[8:], "big") % modulus


def _apply(labels: dict[str, str], cfg: RelabelConfig) -> bool:
    """One step, in place on `labels`; False means drop."""
    action = cfg.action
    if cfg.source_labels:
        value = cfg.separator.join(labels.get(name, "") for name in cfg.source_labels)
    else:
        value = ""
    if action == "drop":
        return not program(cfg.regex).test(value)
    if action == "keep":
        return program(cfg.regex).test(value)
    if action == "dropequal":
        return labels.get(cfg.target_label, "") != value
    if action == "keepequal":
        return labels.get(cfg.target_label, "") == value
    if action == "replace":
        prog = program(cfg.regex)
        groups = prog.groups(value)
        if groups is None:
            return True
        target = expand(cfg.target_label, prog, groups)
        if not is_label_name(target):
            labels.pop(cfg.target_label, None)
            return True
        result = expand(cfg.replacement, prog, groups)
        if result == "":
            labels.pop(cfg.target_label, None)
        else:
            labels[target] = result
        return True
    if action in ("lowercase", "uppercase"):
        mapped = _go_case(value, action == "uppercase")
        if mapped:
            labels[cfg.target_label] = mapped
        else:
            labels.pop(cfg.target_label, None)
        return True
    if action == "hashmod":
        labels[cfg.target_label] = str(_hashmod(value, cfg.modulus))
        return True
    prog = program(cfg.regex)
    test = prog.test
    before = sorted(labels.items())
    if action == "labelmap":
        for name, label_value in before:
            groups = prog.groups(name) if test(name) else None
            if groups is not None:
                new_name = expand(cfg.replacement, prog, groups)
                if label_value:
                    labels[new_name] = label_value
                else:
                    labels.pop(new_name, None)
        return True
    if action == "labeldrop":
        for name, _ in before:
            if test(name):
                del labels[name]
        return True
    if action == "labelkeep":
        for name, _ in before:
            if not test(name):
                del labels[name]
        return True
    raise ValueError(f"unknown relabel action {action!r}")  # parse_relabel_config admits none


def relabel(labels: Mapping[str, str], configs: Sequence[RelabelConfig]) -> dict[str, str] | None:
    """Prometheus' `relabel.Process`: the relabeled copy of `labels`, or None if dropped.

    The argument is never changed. Labels whose value becomes empty are removed, as in
    Prometheus' label builder.
    """
    out = dict(labels)
    for cfg in configs:
        if not _apply(out, cfg):
            return None
        if "" in out.values():  # Prometheus' label builder drops empty values at every step
            out = {name: value for name, value in out.items() if value}
    return out
