"""Go (RE2) regular expressions checked and compiled with Python's `re`.

LogQL regexes are Go regexes. Python's `re` reads nearly the same syntax, with two gaps that
matter in practice and that this module closes:

* Go accepts `(?<name>...)` as well as `(?P<name>...)`; Python only the latter, so the former
  is rewritten.
* Perl-only constructs Go rejects (look-around, back-references, `(?#...)`, conditionals) are
  rejected here too, with Go's wording, so a query Loki refuses is refused by Heron as well.

Anything else follows Python's rules (documented gap: `\\pL` classes, mid-pattern `(?i)`,
`\\z`, `(?U)` are Go-valid but refused by Python 3.11). Errors carry Go-style text
(`error parsing regexp: missing closing ): \\`(\\``) because Loki shows Go's message.
"""

from __future__ import annotations

import re
import warnings

__all__ = ["RegexError", "translate_regex", "compile_regex", "go_regex_error", "capture_names"]


class RegexError(ValueError):
    """A pattern Go would not compile; `str()` is Go's `error parsing regexp: ...` text."""


_GO_FLAGS = set("imsU-")


def translate_regex(pattern: str) -> str:
    """Rewrite a Go regex into the equivalent Python `re` syntax (named groups only).

    Raises RegexError for Perl syntax that Go does not support. Escapes and character classes
    are skipped over so that `\\(?<x` or `[(?<]` are left alone.
    """
    return _scan(pattern)[0]


def capture_names(pattern: str) -> list[str | None]:
    """Go's `SubexpNames()[1:]`: one entry per capturing group, None when unnamed.

    Raises RegexError when Go would not compile the pattern.
    """
    translated, names = _scan(pattern)
    _compile(pattern, translated, 0)
    return names


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _scan(pattern: str) -> tuple[str, list[str | None]]:
    """Translate to Python syntax and collect capture names in group order.

    Go-valid names Python refuses (duplicates, leading digits) get synthetic names in the
    translation; `capture_names` still reports the originals.
    """
    out: list[str] = []
    names: list[str | None] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise RegexError("error parsing regexp: trailing backslash at end of expression: ``")
            nxt = pattern[i + 1]
            if not in_class and nxt in "123456789" and not (i + 2 < n and pattern[i + 2] in "01234567"):
                raise RegexError(f"error parsing regexp: invalid escape sequence: `\\{nxt}`")
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end != -1:
                    out.append(pattern[i : end + 2])
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is a literal in both dialects
                out.append("]")
                i += 1
            continue
        if c == "(" and pattern.startswith("(?", i):
            rest = pattern[i + 2 : i + 3]
            opener = 0
            if pattern.startswith("(?P<", i):
                opener = 4
            elif rest == "<" and pattern[i + 3 : i + 4] not in ("=", "!"):
                opener = 3
            if opener:
                end = pattern.find(">", i + opener)
                name = pattern[i + opener : end] if end != -1 else ""
                if end == -1 or not name or not set(name) <= _NAME_CHARS:
                    frag = pattern[i : end + 1] if end != -1 else pattern[i:]
                    raise RegexError(f"error parsing regexp: invalid named capture: `{frag}`")
                python_name = name if name.isidentifier() and name not in names else f"_heron_g{len(names)}"
                names.append(name)
                out.append(f"(?P<{python_name}>")
                i = end + 1
                continue
            if rest == "" or (rest not in _GO_FLAGS and rest != ":"):
                frag = pattern[i : i + 3]
                raise RegexError(f"error parsing regexp: invalid or unsupported Perl syntax: `{frag}`")
        elif c == "(":
            names.append(None)
        out.append(c)
        i += 1
    return "".join(out), names


def _go_message(pattern: str, exc: re.error) -> str:
    """Map a Python `re.error` onto the closest Go `regexp/syntax` error text."""
    msg = exc.msg
    pos = exc.pos if exc.pos is not None else 0
    src = exc.pattern if isinstance(exc.pattern, str) else pattern
    if msg.startswith("missing ), unterminated subpattern"):
        detail = f"missing closing ): `{pattern}`"
    elif msg.startswith("unbalanced parenthesis"):
        detail = f"unexpected ): `{pattern}`"
    elif msg.startswith("bad escape"):
        detail = f"invalid escape sequence: `{src[pos : pos + 2]}`"
    elif msg == "nothing to repeat":
        detail = f"missing argument to repetition operator: `{src[pos : pos + 1]}`"
    elif msg == "multiple repeat":
        detail = f"invalid nested repetition operator: `{src[max(pos - 1, 0) : pos + 1]}`"
    elif msg.startswith("unterminated character set"):
        detail = f"missing closing ]: `{src[pos:]}`"
    elif msg.startswith("bad character range"):
        detail = f"invalid character class range: `{msg.rsplit(' ', 1)[-1]}`"
    elif msg.startswith(("unknown extension", "unknown flag", "missing -, : or )", "missing :")):
        detail = f"invalid or unsupported Perl syntax: `{src[pos : pos + 3]}`"
    elif msg.startswith(("bad character in group name", "missing group name", "missing >")):
        detail = f"invalid named capture: `{src[pos:]}`"
    else:
        detail = f"{msg}: `{pattern}`"
    return f"error parsing regexp: {detail}"


def _compile(pattern: str, translated: str, flags: int) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(translated, flags)
    except re.error as exc:
        raise RegexError(_go_message(pattern, exc)) from None
    except (RecursionError, OverflowError, ValueError, MemoryError):
        raise RegexError(f"error parsing regexp: expression too large: `{pattern}`") from None


def compile_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a Go regex with Python's `re`, raising RegexError with Go-style text.

    Warnings `re` emits for Go-valid syntax (`[[:alpha:]]` is a "possible nested set") are
    silenced: the project turns warnings into errors, and they say nothing about Go.
    """
    return _compile(pattern, translate_regex(pattern), flags)


def go_regex_error(pattern: str) -> str | None:
    """Go's compile error for `pattern`, or None when it compiles."""
    try:
        compile_regex(pattern)
    except RegexError as exc:
        return str(exc)
    return None
