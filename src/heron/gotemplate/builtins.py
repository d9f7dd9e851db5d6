"""Go's own template builtins (eq, lt, len, index, slice, html, js, urlquery, print*, not)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from heron.gotemplate.errors import _FnError
from heron.gotemplate.functions import _A, _S, _Fn
from heron.gotemplate.gofmt import _sprint, go_sprintf
from heron.gotemplate.values import _format_v, _truth, _type_name


def _kind(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(a: Any, *rest: Any) -> bool:
    """Go's eq: true if a equals any of the rest; kinds must match."""
    if not rest:
        raise _FnError("missing argument for comparison")
    ka = _kind(a)
    for b in rest:
        kb = _kind(b)
        if ka != kb:
            if ka == "nil" or kb == "nil":
                if a is None and b is None:
                    return True
                continue
            raise _FnError("incompatible types for comparison")
        if ka == "other" and isinstance(a, (dict, list)):
            raise _FnError(f"non-comparable type {_format_v(a, False)}: {_type_name(a)}")
        if a == b:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("bool", "nil", "other") or kb in ("bool", "nil", "other"):
        raise _FnError("invalid type for comparison")
    if ka != kb:
        raise _FnError("incompatible types for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, (list, dict)):
        return len(v)
    if v is None:
        raise _FnError("len of nil pointer")
    raise _FnError(f"len of type {_type_name(v)}")


def _index(item: Any, *indexes: Any) -> Any:
    for idx in indexes:
        if isinstance(item, dict):
            if not isinstance(idx, str):
                raise _FnError(f"value has type {_type_name(idx)}; should be string")
            item = item.get(idx)
        elif isinstance(item, (list, str)):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise _FnError(f"cannot index slice/array with type {_type_name(idx)}")
            seq = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
            if not 0 <= idx < len(seq):
                raise _FnError(f"index out of range: {idx}")
            item = seq[idx]
        elif item is None:
            raise _FnError("index of untyped nil")
        else:
            raise _FnError(f"can't index item of type {_type_name(item)}")
    return item


def _slice(item: Any, *idx: Any) -> Any:
    if not isinstance(item, (str, list)):
        raise _FnError(f"can't slice item of type {_type_name(item)}")
    if len(idx) > 2:
        raise _FnError("too many slice indexes: 3")
    seq = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
    bounds = [i if isinstance(i, int) and not isinstance(i, bool) else -1 for i in idx]
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else len(seq)
    if lo < 0 or hi < lo or hi > len(seq):
        raise _FnError(f"invalid slice index: {lo} > {hi}" if 0 <= hi < lo else f"index out of range: {hi}")
    out = seq[lo:hi]
    return out.decode("utf-8", "surrogateescape") if isinstance(out, bytes) else out


def _html_escape(limit: int, *args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(args, limit)
    return (
        s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&#34;").replace("\x00", "\ufffd")
    )  # fmt: skip


def _js_escape(limit: int, *args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(args, limit)
    out: list[str] = []
    for ch in s:
        if ch in "\\'\"":
            out.append("\\" + ch)
        elif ch in "<>&=":
            out.append(f"\\u{ord(ch):04X}")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(limit: int, *args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(args, limit)
    return urllib.parse.quote_plus(s, safe="")


BUILTINS: dict[str, _Fn] = {
    # Go builtins (and/or are special forms: their arguments are evaluated lazily)
    "not": _Fn(lambda a: not _truth(a), (_A,)),
    "len": _Fn(_len, (_A,)),
    "index": _Fn(_index, (_A,), _A),
    "slice": _Fn(_slice, (_A,), _A),
    "print": _Fn(lambda m, *a: _sprint(a, m), (), _A, sized=True),
    "printf": _Fn(lambda m, fmt, *a: go_sprintf(fmt, *a, limit=m), (_S,), _A, sized=True),
    "println": _Fn(lambda m, *a: _sprint(a, m, " ") + "\n", (), _A, sized=True),
    "eq": _Fn(_eq, (_A,), _A),
    "ne": _Fn(_ne, (_A, _A)),
    "lt": _Fn(_lt, (_A, _A)),
    "le": _Fn(_le, (_A, _A)),
    "gt": _Fn(_gt, (_A, _A)),
    "ge": _Fn(_ge, (_A, _A)),
    "html": _Fn(_html_escape, (), _A, sized=True),
    "js": _Fn(_js_escape, (), _A, sized=True),
    "urlquery": _Fn(_urlquery, (), _A, sized=True),
}
