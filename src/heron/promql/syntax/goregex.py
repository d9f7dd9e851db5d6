"""Label-matcher regexes: Go (RE2) syntax compiled with Python's `re`.

Prometheus compiles `=~` / `!~` values with Go's regexp, fully anchored. Python reads nearly the
same syntax; `heron.logql.syntax.regex` already closes the common gaps (named groups, Perl-only
constructs Go refuses, Go's error wording). One more gap matters for PromQL: flag groups such as
`(?i)` are legal anywhere in Go (they apply to the rest of the enclosing group), but Python
refuses them anywhere but the very start, and Heron wraps every pattern in `(?s:...)` for the
anchoring, so even a leading `(?i)` would fail. `compile_matcher_regex` rewrites each flag
group into a scoped one, `a(?i)b|c` -> `a(?i:b)|(?i:c)`, which means the same thing.
"""

from __future__ import annotations

import re
import warnings

from heron.logql.syntax.regex import RegexError, translate_regex
from heron.logql.syntax.regex import _go_message as _go_regex_message  # noqa: PLC2701

__all__ = ["RegexError", "compile_matcher_regex", "scope_flag_groups"]

_FLAG_GROUP = re.compile(r"\(\?([imsU]*(?:-[imsU]*)?)\)")


def scope_flag_groups(pattern: str) -> str:
    """Rewrite every `(?flags)` into `(?flags:...)` reaching to the end of its group or branch."""
    out: list[str] = []
    # One entry per open group: the flag strings opened at that level (to close and reopen).
    stack: list[list[str]] = [[]]
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
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
            if i < n and pattern[i] == "]":
                out.append("]")
                i += 1
            continue
        if c == "(":
            m = _FLAG_GROUP.match(pattern, i)
            if m is not None:
                flags = m.group(1)
                if flags and flags != "-":
                    out.append(f"(?{flags}:")
                    stack[-1].append(flags)
                i = m.end()
                continue
            stack.append([])
            out.append(c)
            i += 1
            continue
        if c == ")":
            opened = stack.pop() if len(stack) > 1 else []
            out.append(")" * len(opened) + ")")
            i += 1
            continue
        if c == "|":
            opened = stack[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(stack[0]))
    return "".join(out)


def compile_matcher_regex(pattern: str) -> re.Pattern[str]:
    """The fully anchored matcher regex for a Go pattern; RegexError with Go's wording."""
    translated = scope_flag_groups(translate_regex(pattern))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(f"(?s:{translated})")
    except re.error as exc:
        raise RegexError(_go_regex_message(pattern, exc)) from None
    except (RecursionError, OverflowError, ValueError, MemoryError):
        raise RegexError(f"error parsing regexp: expression too large: `{pattern}`") from None
