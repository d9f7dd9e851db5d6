"""Syntax checks for Kubernetes label and field selectors, as client-go parses them.

Prometheus validates `kubernetes_sd_configs[].selectors[].label` with `labels.Parse` and
`.field` with `fields.ParseSelector` when it loads the file, so a typo fails at start-up rather
than as an API error later. Heron passes the text unchanged to the API server; these functions
only refuse what client-go refuses, with a message saying what is wrong.
"""

from __future__ import annotations

import re

__all__ = ["check_field_selector", "check_label_selector"]

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_KEY_RE = re.compile(rf"(?:{_DNS_LABEL}(?:\.{_DNS_LABEL})*/)?{_NAME}")
_VALUE_RE = re.compile(rf"(?:{_NAME})?")
_TOKEN_RE = re.compile(r"\s*(!=|==|=|!|\(|\)|,|<|>|[^\s!=(),<>]+)")


def _check_key(key: str) -> None:
    prefix, _, _ = key.rpartition("/")
    if not _KEY_RE.fullmatch(key) or len(prefix) > 253:
        raise ValueError(f"invalid label key {key!r}: want a name like app or example.com/app")


def _check_value(value: str) -> None:
    if not _VALUE_RE.fullmatch(value):
        raise ValueError(f"invalid label value {value!r}: at most 63 letters, digits, '-', '_' or '.'")


def check_label_selector(text: str) -> None:
    """Raise ValueError unless `text` is a label selector client-go's `labels.Parse` accepts."""
    tokens = _TOKEN_RE.findall(text)
    if "".join(tokens).replace(" ", "") != "".join(text.split()):
        raise ValueError(f"invalid label selector {text!r}")
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"invalid label selector {text!r}: unexpected end")
        pos += 1
        return tokens[pos - 1]

    if not tokens:
        return
    while True:
        tok = take()
        if tok == "!":
            _check_key(take())
        else:
            _check_key(tok)
            if pos < len(tokens) and tokens[pos] != ",":
                op = take()
                if op in ("=", "==", "!="):
                    value = tokens[pos] if pos < len(tokens) and tokens[pos] != "," else ""
                    if value:
                        pos += 1
                    _check_value(value)
                elif op in ("in", "notin"):
                    if take() != "(":
                        raise ValueError(f"invalid label selector {text!r}: want ( after {op}")
                    if pos < len(tokens) and tokens[pos] == ")":
                        raise ValueError(f"invalid label selector {text!r}: the set after {op} is empty")
                    while True:
                        value = take()
                        if value == ")":
                            break
                        if value == ",":
                            _check_value("")
                            continue
                        _check_value(value)
                        sep = take()
                        if sep == ")":
                            break
                        if sep != ",":
                            raise ValueError(f"invalid label selector {text!r}: want , or ) in a set")
                elif op in (">", "<"):
                    number = take()
                    if not number.isdigit():
                        raise ValueError(f"invalid label selector {text!r}: want an integer after {op}")
                else:
                    raise ValueError(f"invalid label selector {text!r}: unknown operator {op!r}")
        if pos >= len(tokens):
            return
        if take() != ",":
            raise ValueError(f"invalid label selector {text!r}: want , between requirements")


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def check_field_selector(text: str) -> None:
    """Raise ValueError unless `text` is a field selector client-go's `fields.ParseSelector`
    accepts: comma-separated `key=value`, `key==value` or `key!=value` terms."""
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        rhs = _after_operator(term)
        if rhs is None:
            raise ValueError(f"invalid field selector {text!r}: can't understand {term!r}")
        problem = _unescape_problem(rhs)
        if problem:
            raise ValueError(f"invalid field selector {text!r}: {problem}")


def _after_operator(term: str) -> str | None:
    """The value after the first `!=`, `==` or `=` outside an escape, or None."""
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[i + len(op) :]
        i += 1
    return None


def _unescape_problem(value: str) -> str | None:
    """client-go's fields.UnescapeValue: `\\`, `\\,` and `\\=` are escapes; any other
    backslash, or a bare `=` or `,`, is an error."""
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                return f"invalid escape sequence in {value!r}"
            i += 2
            continue
        if c in "=,":
            return f"unescaped {c!r} in {value!r}"
        i += 1
    return None
