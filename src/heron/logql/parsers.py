"""LogQL label extraction stages: `json`, `logfmt`, `regexp`, `pattern`, `unpack`.

Each parser turns one log line (bytes) into the labels it extracts, as Loki 3.x does
(pkg/logql/log/parser.go and the jsonparser, logfmt and pattern packages it uses). They take
plain values, not AST nodes, so every one is testable on its own. They run once per line in
Python, so the common path leans on C: `json.JSONDecoder` for well-formed JSON, `re` scans for
logfmt tokens, RE2 for `regexp`, `bytes.find` for `pattern`.

Error reporting: a parser returns `(labels, error)`. `error` is the value Loki puts in
`__error__` ("JSONParserErr", "LogfmtParserErr") or None. When Loki also sets
`__error_details__`, the returned labels hold it under that name, so a caller can apply the
labels and then set `__error__`. Labels extracted before the error are kept, as in Loki.

Loki behaviours worth knowing (all verified against Loki's source, not guessed):

* `json` without parameters flattens nested objects with `_` and skips arrays and nulls. Numbers
  keep their JSON text (`1.50` stays "1.50", `1e3` stays "1e3"); booleans are "true"/"false".
  Keys are sanitized to label names (invalid characters -> `_`, a leading digit gets a `_`
  prefix, surrounding spaces trimmed). Loki's JSON reader is lenient: text after the closing
  brace is ignored and labels read before a syntax error are kept.
* `json a="path"` returns objects as their raw JSON text and arrays as their raw text; a path
  that is absent yields an empty label; null yields "".
* Invalid UTF-8 in a JSON or logfmt value becomes a space per bad byte (Loki replaces
  utf8.RuneError with a space); U+FFFD in the input is replaced the same way.
* `unpack` only sets labels when the object has an `_entry` string (Loki flushes the labels it
  collected only for a packed entry); `_entry` replaces the line.
* `logfmt` is Loki's fork of go-logfmt: bare keys have an empty value, dropped unless
  keep_empty; in strict mode the first malformed pair stops parsing with LogfmtParserErr, in
  the default mode malformed pairs are skipped silently (Loki reports no error then).
* Extracted labels that collide with a *stream* label get `_extracted` appended
  (`merge_extracted`). Labels extracted by an earlier stage are simply overwritten.

Choices where Loki is unclear or buggy, made on purpose:

* A JSON key that sanitizes to an empty name ("" or only spaces) is skipped; Loki would set a
  label with an empty name, which is not a valid label.
* `regexp` and `pattern` values keep the line's bytes; invalid UTF-8 there becomes U+FFFD (Go
  keeps the raw bytes, which a Python str cannot carry).
* `pattern` literals are matched as the UTF-8 text written. Loki's lexer turns each byte of a
  non-ASCII literal into its own rune, so such a literal never matches in Loki.
* `pattern` rejects every pair of adjacent captures at compile time; Loki only checks pairs at
  even positions and panics at match time on the others.
* With json/logfmt parameters, a path matching nothing gives an empty label unless `base` (the
  stream labels) already has that name, as Loki does; pass `base` to get that exactly.
* JSON nested deeper than Python's recursion limit (about 1000 levels) is reported as
  JSONParserErr ("nesting too deep") with the labels read so far; Go has no such limit.
* With json parameters, malformed JSON is walked leniently as jsonparser.EachKey does, but by
  path rather than by EachKey's single scan, so on broken input the two can differ; an error
  is reported when the value at a requested path cannot be read.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

import re2

__all__ = [
    "JSON_PARSER_ERR",
    "LOGFMT_PARSER_ERR",
    "ERROR_LABEL",
    "ERROR_DETAILS_LABEL",
    "PatternParser",
    "RegexpParser",
    "check_json_params",
    "check_logfmt_params",
    "compile_pattern",
    "compile_regexp_parser",
    "merge_extracted",
    "parse_json",
    "parse_json_path",
    "parse_logfmt",
    "parse_unpack",
    "sanitize_label_key",
]

JSON_PARSER_ERR = "JSONParserErr"
LOGFMT_PARSER_ERR = "LogfmtParserErr"
ERROR_LABEL = "__error__"
ERROR_DETAILS_LABEL = "__error_details__"
DUPLICATE_SUFFIX = "_extracted"
PACKED_ENTRY_KEY = "_entry"

Labels = dict[str, str]
Params = Sequence[tuple[str, str]] | None

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_NON_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
# Go's unicode.IsSpace, which strings.TrimSpace uses.
_GO_SPACE = "".join(
    ["\t\n\v\f\r \x85\xa0\u1680", *map(chr, range(0x2000, 0x200B)), "\u2028\u2029\u202f\u205f\u3000"]
)
# What Go reads as utf8.RuneError: a byte that is not UTF-8 (decoded here with surrogateescape
# to U+DC80..U+DCFF), and U+FFFD itself.
_RUNE_ERROR = re.compile("[\ud800-\udfff\ufffd]")


# --- shared helpers ---------------------------------------------------------------------------


def _decode(line: bytes) -> str:
    """Bytes to str, one U+DCxx per invalid byte, so nothing is lost and offsets stay per byte."""
    return line.decode("utf-8", "surrogateescape")


def _clean(value: str) -> str:
    """Loki's removeInvalidUtf: every RuneError (a bad byte, or U+FFFD) becomes a space."""
    if value.isascii():
        return value
    return _RUNE_ERROR.sub(" ", value)


def _fffd(value: bytes) -> str:
    """Raw line bytes as text, each invalid byte as U+FFFD (for parsers that keep bytes as-is)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("utf-8", "surrogateescape")
        return "".join("\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in text)


@functools.lru_cache(maxsize=8192)
def _sanitize(key: str, digit_prefix: bool) -> str:
    """Loki's sanitizeLabelKey / appendSanitized: trim Go spaces, prefix a leading digit with `_`
    (only where Loki does: the first component of a name), every other invalid char -> `_`."""
    key = key.strip(_GO_SPACE)
    if not key:
        return ""
    if digit_prefix and "0" <= key[0] <= "9":
        key = "_" + key
    return _NON_LABEL_CHAR.sub("_", key)


def sanitize_label_key(key: str) -> str:
    """A JSON/logfmt key as the label name Loki derives from it ("" if nothing is left)."""
    return _sanitize(key, True)


def merge_extracted(
    base: Mapping[str, str], extracted: Mapping[str, str], current: Mapping[str, str] | None = None
) -> Labels:
    """Labels after a parser stage: `current` (defaults to `base`) updated with `extracted`.

    `base` are the entry's stream labels and structured metadata. An extracted name that is
    already one of them gets `_extracted` appended, as Loki's BaseHas and structured-metadata
    checks do. A name an earlier stage extracted keeps its value (Loki records extracted names
    and its parsers skip them). `__error__` and `__error_details__` are never renamed.
    """
    out = dict(base if current is None else current)
    for name, value in extracted.items():
        if name not in (ERROR_LABEL, ERROR_DETAILS_LABEL):
            if name in base:
                name += DUPLICATE_SUFFIX
            elif name in out:
                continue  # an earlier stage extracted it: Loki's hints skip extracted keys
        out[name] = value
    return out


def _check_label_name(name: str, what: str = "extracted label name") -> None:
    if not _LABEL_NAME.match(name):
        raise ValueError(f"invalid {what} '{name}'")


# --- jsonparser (github.com/grafana/jsonparser) port, for what the fast path cannot do ---------

_STRING, _NUMBER, _OBJECT, _ARRAY, _BOOLEAN, _NULL = range(1, 7)

_ERR_MALFORMED_JSON = "Malformed JSON error"
_ERR_MALFORMED_STRING = "Value is string, but can't find closing '\"' symbol"
_ERR_MALFORMED_ARRAY = "Value is array, but can't find closing ']' symbol"
_ERR_MALFORMED_OBJECT = "Value looks like object, but can't find closing '}' symbol"
_ERR_UNKNOWN_VALUE = "Unknown value type"
_ERR_STRING_ESCAPE = "Encountered an invalid escape sequence in a string"
_ERR_NOT_OBJECT = "expecting json object(6), but it is not"  # Loki's errUnexpectedJSONObject


class _JSONError(Exception):
    """A jsonparser error; str() is jsonparser's message, which Loki puts in __error_details__."""


class _Value(NamedTuple):
    text: str  # strings without quotes (still escaped), everything else as written
    kind: int
    start: int  # where the value starts (its quote for a string)
    end: int  # just after it


_NON_WS = re.compile(r"[^ \n\r\t]")
_ENTRY_KEY = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"[ \n\r\t]*:', re.S)
_ENTRY_SEP = re.compile(r"[ \n\r\t]*([,}])")
_STRING_END = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # from just after an opening quote
_TOKEN_END = re.compile(r"[ \n\r\t,}\]]")
_OBJECT_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[{}]', re.S)
_ARRAY_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]]', re.S)
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))?", re.S)
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _next_token(s: str, i: int) -> int:
    m = _NON_WS.search(s, i)
    return m.start() if m else -1


def _block_end(s: str, i: int, tokens: re.Pattern[str]) -> int:
    """jsonparser.blockEnd: just after the bracket closing the one at s[i], skipping strings."""
    level = 0
    for m in tokens.finditer(s, i):
        tok = m.group()
        if tok[0] == '"':
            if len(tok) == 1:  # an unterminated string
                return -1
            continue
        level += 1 if tok in "{[" else -1
        if level == 0:
            return m.end()
    return -1


def _get(s: str, i: int) -> _Value:
    """jsonparser.Get(data[i:]) without keys: the next value, typed the lenient way it does."""
    o = _next_token(s, i)
    if o < 0:
        raise _JSONError(_ERR_MALFORMED_JSON)
    c = s[o]
    if c == '"':
        m = _STRING_END.match(s, o + 1)
        if m is None:
            raise _JSONError(_ERR_MALFORMED_STRING)
        return _Value(s[o + 1 : m.end() - 1], _STRING, o, m.end())
    if c == "[" or c == "{":
        end = _block_end(s, o, _ARRAY_TOKENS if c == "[" else _OBJECT_TOKENS)
        if end < 0:
            raise _JSONError(_ERR_MALFORMED_ARRAY if c == "[" else _ERR_MALFORMED_OBJECT)
        return _Value(s[o:end], _ARRAY if c == "[" else _OBJECT, o, end)
    m = _TOKEN_END.search(s, o)
    end = m.start() if m else len(s)
    text = s[o:end]
    if c == "t" or c == "f":
        if text != "true" and text != "false":
            raise _JSONError(_ERR_UNKNOWN_VALUE)
        kind = _BOOLEAN
    elif c == "n" or c == "u":
        if text != "null":
            raise _JSONError(_ERR_UNKNOWN_VALUE)
        kind = _NULL
    elif c in "0123456789-":
        kind = _NUMBER  # anything token-like: jsonparser does not validate numbers
    else:
        raise _JSONError(_ERR_UNKNOWN_VALUE)
    return _Value(text, kind, o, end)


def _object_entries(s: str, start: int) -> Iterator[tuple[str | None, _Value | _JSONError]]:
    """jsonparser.ObjectEach as a generator: (key, value) pairs in order. A malformed value is
    yielded as (key, error) and a structural error as (None, error); either ends the walk."""
    o = _next_token(s, start)
    if o < 0 or s[o] != "{":
        yield None, _JSONError(_ERR_MALFORMED_OBJECT)
        return
    off = _next_token(s, o + 1)
    if off < 0:
        yield None, _JSONError(_ERR_MALFORMED_JSON)
        return
    if s[off] == "}":
        return
    last_comma = -1
    n = len(s)
    while off < n:
        m = _ENTRY_KEY.match(s, off)
        if m is not None:  # the usual case in one step: "key" : value
            key = _unescape(m.group(1))
            if key is None:
                yield None, _JSONError(_ERR_STRING_ESCAPE)
                return
            try:
                value = _get(s, m.end())
            except _JSONError as exc:
                yield key, exc
                return
            yield key, value
            m = _ENTRY_SEP.match(s, value.end)
            if m is not None:
                if m.group(1) == "}":
                    return
                off = _next_token(s, m.end())
                if off < 0:
                    yield None, _JSONError(_ERR_MALFORMED_ARRAY)
                    return
                if s[off] == "}" and off == m.end():  # jsonparser only rejects ",}" with no space
                    yield None, _JSONError(_ERR_MALFORMED_OBJECT)
                    return
                if s[off] == "}":
                    return
                continue
            off = value.end  # let the step-by-step path below report the error
            o = _next_token(s, off)
            if o < 0:
                yield None, _JSONError(_ERR_MALFORMED_ARRAY)
            else:
                yield None, _JSONError(_ERR_MALFORMED_OBJECT)
            return
        c = s[off]
        if c == "}":
            if last_comma != -1 and last_comma + 1 == off:  # {"a":1,}
                yield None, _JSONError(_ERR_MALFORMED_OBJECT)
            return
        if c != '"':
            yield None, _JSONError(_ERR_MALFORMED_OBJECT)
            return
        m = _STRING_END.match(s, off + 1)
        if m is None:
            yield None, _JSONError(_ERR_MALFORMED_JSON)
            return
        raw_key = s[off + 1 : m.end() - 1]
        off = m.end()
        key = _unescape(raw_key)
        if key is None:
            yield None, _JSONError(_ERR_STRING_ESCAPE)
            return
        o = _next_token(s, off)
        if o < 0 or s[o] != ":":
            yield None, _JSONError(_ERR_MALFORMED_JSON)
            return
        try:
            value = _get(s, o + 1)
        except _JSONError as exc:
            yield key, exc
            return
        yield key, value
        off = _next_token(s, value.end)
        if off < 0:
            yield None, _JSONError(_ERR_MALFORMED_ARRAY)  # sic: jsonparser's choice of error
            return
        if s[off] == "}":
            return
        if s[off] != ",":
            yield None, _JSONError(_ERR_MALFORMED_OBJECT)
            return
        last_comma = off
        o = _next_token(s, off + 1)
        if o < 0:
            yield None, _JSONError(_ERR_MALFORMED_ARRAY)
            return
        if o - off - 1 > 0:  # jsonparser's own bookkeeping: only ",}" is caught
            last_comma += o - off - 2
        off = o
    yield None, _JSONError(_ERR_MALFORMED_OBJECT)


def _array_items(s: str, start: int) -> Iterator[_Value]:
    """jsonparser.ArrayEach: the elements of the array starting at s[start]; stops quietly at the
    first malformed element (callers only look for one index)."""
    off = _next_token(s, start + 1)
    if off < 0 or s[off] == "]":
        return
    while True:
        try:
            value = _get(s, off)
        except _JSONError:
            return
        yield value
        off = _next_token(s, value.end)
        if off < 0 or s[off] != ",":
            return
        off += 1


def _unescape(s: str) -> str | None:
    """jsonparser.Unescape; None where it fails (unknown escape, bad or lone surrogate)."""
    if "\\" not in s:
        return s
    out: list[str] = []
    pos = 0
    n = len(s)
    while True:
        i = s.find("\\", pos)
        if i < 0:
            out.append(s[pos:])
            return "".join(out)
        out.append(s[pos:i])
        if i + 1 >= n:
            return None
        c = s[i + 1]
        if c != "u":
            simple = _SIMPLE_ESCAPES.get(c)
            if simple is None:
                return None
            out.append(simple)
            pos = i + 2
            continue
        if not _HEX4.match(s, i + 2):
            return None
        r = int(s[i + 2 : i + 6], 16)
        if not 0xD800 <= r <= 0xDFFF:
            out.append(chr(r))
            pos = i + 6
            continue
        # A surrogate needs a second escape; jsonparser reads its hex digits at i+8 without
        # checking for "\u" and combines any "low" value >= 0xDC00 it finds there.
        if not _HEX4.match(s, i + 8) or i + 12 > n:
            return None
        r2 = int(s[i + 8 : i + 12], 16)
        if r2 < 0xDC00:
            return None
        cp = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)
        out.append(chr(cp) if cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF else "\ufffd")
        pos = i + 12


def _unescape_value(s: str) -> str:
    """Loki's unescapeJSONString: unescape, "" on failure, RuneErrors to spaces."""
    u = _unescape(s)
    return "" if u is None else _clean(u)


# --- json -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN/Infinity: not JSON to jsonparser either; use the port


class _Num(str):
    """A JSON number kept as its source text (Loki never reformats numbers), told apart from a
    JSON string by its type."""

    __slots__ = ()


# Objects decode to tuples of (key, value) pairs, so duplicate keys and their order survive and
# objects stay distinguishable from arrays (lists); numbers stay as their source text.
_DECODER = json.JSONDecoder(
    object_pairs_hook=tuple,
    parse_float=_Num,
    parse_int=_Num,
    parse_constant=_reject_constant,
    strict=False,
)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NOT_FOUND = object()


def _fast_decode(text: str, start: int) -> Any:
    """The value at text[start] by the C decoder, or _NOT_FOUND where its answer could differ
    from jsonparser's (syntax it rejects or accepts differently, surrogate escapes)."""
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        return _NOT_FOUND
    try:
        return _DECODER.raw_decode(text, start)[0]
    except (ValueError, RecursionError):
        return _NOT_FOUND


def parse_json(
    line: bytes, params: Params = None, base: Mapping[str, str] | None = None
) -> tuple[Labels, str | None]:
    """Loki's `| json` (no params) or `| json name="path", ...` (params: (label, path) pairs).

    Paths use Loki's syntax: `a.b`, `a["b"]`, `a[0]`, `a.b[1].c`, `["a.b"]`. See the module
    docstring for value rendering. `base` (stream labels) only matters with params: a missing
    path's label is not added when the stream already has that name, as in Loki.
    """
    if params:
        return _parse_json_params(line, params, base)
    text = _decode(line)
    out: Labels = {}
    start = _next_token(text, 0)
    if start >= 0 and text[start] == "{":
        obj = _fast_decode(text, start)
        if type(obj) is tuple:
            _flatten(obj, "", out)
            return out, None
    try:
        _flatten_port(text, "", out)
    except _JSONError as exc:
        out[ERROR_DETAILS_LABEL] = str(exc)
        return out, JSON_PARSER_ERR
    except RecursionError:  # Go has no such limit; a line nested this deep is not worth a crash
        out[ERROR_DETAILS_LABEL] = "nesting too deep"
        return out, JSON_PARSER_ERR
    return out, None


def _child_name(prefix: str, key: str) -> str:
    """Loki's key building: a nested key is `prefix_key`, with no digit prefix of its own (the
    name cannot start with it), and an empty key leaves `prefix_`; a top-level key is sanitized
    alone, and an empty one leaves no prefix at all."""
    return prefix + "_" + _sanitize(key, False) if prefix else _sanitize(key, True)


def _flatten(pairs: tuple[tuple[str, Any], ...], prefix: str, out: Labels) -> None:
    """Loki's JSONParser over an already decoded object: nested keys joined with `_`."""
    for key, value in pairs:
        t = type(value)
        if t is str:
            v = _clean(value)
        elif t is _Num:
            v = str(value)
        elif t is tuple:
            _flatten(value, _child_name(prefix, key), out)
            continue
        elif t is bool:
            v = "true" if value else "false"
        else:  # null, arrays
            continue
        name = _child_name(prefix, key)
        if name:
            out.setdefault(name, v)  # a key seen twice: Loki keeps the first


def _flatten_port(text: str, prefix: str, out: Labels) -> None:
    """The same walk with jsonparser's lenient reader, raising its error where it stops."""
    for key, value in _object_entries(text, 0):
        if isinstance(value, _JSONError):
            raise value
        assert key is not None
        kind = value.kind
        if kind == _OBJECT:
            _flatten_port(value.text, _child_name(prefix, key), out)
            continue
        if kind == _STRING:
            v = _unescape_value(value.text)
        elif kind == _NUMBER:
            v = _clean(value.text)
        elif kind == _BOOLEAN:
            v = value.text
        else:
            continue
        name = _child_name(prefix, key)
        if name:
            out.setdefault(name, v)  # a key seen twice: Loki keeps the first


@functools.lru_cache(maxsize=1024)
def parse_json_path(expr: str) -> tuple[str | int, ...]:
    """A Loki JSON path (`a.b[0]["c d"]`) as its keys and indexes. Raises ValueError like Loki."""
    tokens: list[tuple[str, str | int]] = []
    i, n = 0, len(expr)

    def fail(msg: str) -> ValueError:
        return ValueError(f"cannot parse expression [{expr}]: {msg}")

    while i < n:
        c = expr[i]
        if c in " \t\n":
            i += 1
        elif "0" <= c <= "9":
            j = i
            while True:
                r = expr[j] if j < n else "\x00"
                if r == "." and j > i:
                    raise fail("cannot use float as array index")
                if r in " \t\n.]":
                    break
                if not "0" <= r <= "9":
                    raise fail(f"non-integer value: {r}")
                j += 1
            tokens.append(("INDEX", int(expr[i:j])))
            i = j
        elif c in "[].":
            tokens.append((c, c))
            i += 1
        elif c.isascii() and (c.isalpha() or c == "_"):
            j = i + 1
            while j < n and expr[j].isascii() and (expr[j].isalnum() or expr[j] == "_"):
                j += 1
            tokens.append(("FIELD", expr[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and expr[j] not in '"]\x00':
                j += 1
            tokens.append(("STRING", expr[i + 1 : j]))
            i = j + 1
        else:
            raise fail(f"unexpected char {c}")
    path: list[str | int] = []
    k = 0
    while k < len(tokens):
        kind, val = tokens[k]
        if kind == "FIELD" and not path:
            path.append(val)
            k += 1
        elif kind == "." and path and k + 1 < len(tokens) and tokens[k + 1][0] == "FIELD":
            path.append(tokens[k + 1][1])
            k += 2
        elif (
            kind == "["
            and k + 2 < len(tokens)
            and tokens[k + 1][0] in ("STRING", "INDEX")
            and tokens[k + 2][0] == "]"
        ):
            path.append(tokens[k + 1][1])
            k += 3
        else:
            raise fail("syntax error")
    if not path:
        raise fail("syntax error")
    return tuple(path)


@functools.lru_cache(maxsize=256)
def _compile_json_params(params: tuple[tuple[str, str], ...]) -> list[tuple[str, tuple[str | int, ...]]]:
    out = []
    for name, expr in params:
        path = parse_json_path(expr)
        _check_label_name(name)
        out.append((name, path))
    return out


def check_json_params(params: Sequence[tuple[str, str]]) -> None:
    """Validate `| json name="path"` once, when the pipeline is built: a bad label name or path
    is the query's fault (ValueError), found before any line is read."""
    _compile_json_params(tuple((name, expr) for name, expr in params))


def _parse_json_params(
    line: bytes, params: Sequence[tuple[str, str]], base: Mapping[str, str] | None
) -> tuple[Labels, str | None]:
    """Loki's JSONExpressionParser."""
    compiled = _compile_json_params(tuple((name, expr) for name, expr in params))
    if not line:
        return {}, None
    if line[:1] not in (b"{", b"[", b'"'):  # isValidJSONStart: no whitespace allowed first
        return {}, JSON_PARSER_ERR
    text = _decode(line)
    out: Labels = {}
    error: str | None = None
    doc = _fast_decode(text, 0)
    for name, path in compiled:
        value: Any = _NOT_FOUND
        if doc is not _NOT_FOUND:
            value = _lookup_decoded(doc, path)
            if value is not _NOT_FOUND and type(value) not in (tuple, list):
                out[name] = _render_decoded(value)
                continue
            if value is not _NOT_FOUND:  # an object or array: its raw text is wanted
                span = _raw_span(text, _next_token(text, 0), path, 0)
                assert span is not None
                raw = text[span[0] : span[1]]
                out[name] = _clean(raw) if type(value) is tuple else _unescape_value(raw)
                continue
        if doc is _NOT_FOUND:  # malformed for the C decoder: jsonparser's lenient walk
            try:
                value = _lookup_raw(text, path)
            except _JSONError as exc:
                error = JSON_PARSER_ERR
                out[ERROR_DETAILS_LABEL] = str(exc)
                value = _NOT_FOUND
        if value is _NOT_FOUND or value is None:
            if base is None or name not in base:
                out.setdefault(name, "")
            continue
        out[name] = _render_raw(value)
    return out, error


def _lookup_decoded(node: Any, path: tuple[str | int, ...]) -> Any:
    """The first value at `path` in document order (later duplicates are tried if the first
    occurrence does not lead anywhere, like jsonparser.EachKey)."""
    if not path:
        return node
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        if type(node) is list and step < len(node):
            return _lookup_decoded(node[step], rest)
        return _NOT_FOUND
    if type(node) is tuple:
        for key, value in node:
            if key == step:
                found = _lookup_decoded(value, rest)
                if found is not _NOT_FOUND:
                    return found
    return _NOT_FOUND


_SCAN_ONCE = _DECODER.scan_once


def _skip_ws(text: str, pos: int) -> int:
    m = _NON_WS.search(text, pos)
    return m.start() if m else len(text)


def _raw_span(text: str, pos: int, path: tuple[str | int, ...], k: int) -> tuple[int, int] | None:
    """Where the value at path[k:] lies in `text`, for a document the C decoder accepted; the
    same first-match-in-document-order walk as `_lookup_decoded`, with values skipped in C."""
    pos = _skip_ws(text, pos)
    if k == len(path):
        return pos, _SCAN_ONCE(text, pos)[1]
    step = path[k]
    if isinstance(step, int):
        if text[pos] != "[":
            return None
        pos = _skip_ws(text, pos + 1)
        if text[pos] == "]":
            return None
        for _ in range(step):
            pos = _skip_ws(text, _SCAN_ONCE(text, pos)[1])
            if text[pos] == "]":
                return None
            pos = _skip_ws(text, pos + 1)
        return _raw_span(text, pos, path, k + 1)
    if text[pos] != "{":
        return None
    pos = _skip_ws(text, pos + 1)
    if text[pos] == "}":
        return None
    while True:
        m = _ENTRY_KEY.match(text, pos)
        assert m is not None
        vpos = _skip_ws(text, m.end())
        if _unescape(m.group(1)) == step:
            found = _raw_span(text, vpos, path, k + 1)
            if found is not None:
                return found
        sep = _ENTRY_SEP.match(text, _SCAN_ONCE(text, vpos)[1])
        assert sep is not None
        if sep.group(1) == "}":
            return None
        pos = _skip_ws(text, sep.end())


def _render_decoded(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _clean(str(value))


def _lookup_raw(text: str, path: tuple[str | int, ...], pos: int = 0) -> _Value | None:
    """`_lookup_decoded` on the raw text with jsonparser's lenient reader. Raises the reader's
    error only when the value at the full path itself cannot be read, as EachKey reports."""
    o = _next_token(text, pos)
    if o < 0:
        return None
    if not path:
        return _get(text, o)
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        if text[o] != "[":
            return None
        for idx, item in enumerate(_array_items(text, o)):
            if idx == step:
                return _lookup_raw(text, rest, item.start)
        return None
    if text[o] != "{":
        return None
    for key, value in _object_entries(text, o):
        if isinstance(value, _JSONError):
            if key == step and not rest:
                raise value
            return None
        if key == step:
            found = value if not rest else _lookup_raw(text, rest, value.start)
            if found is not None:
                return found
    return None


def _render_raw(value: _Value) -> str:
    if value.kind == _NULL:
        return ""
    if value.kind == _OBJECT:
        return _clean(value.text)
    return _unescape_value(value.text)  # strings, and (as Loki does) numbers, booleans, arrays


def parse_unpack(line: bytes) -> tuple[Labels, bytes | None, str | None]:
    """Loki's `| unpack`: (labels, replacement line or None, error).

    Every string field of the top-level object becomes a label, `_entry` becomes the new line;
    labels are only set when `_entry` is present (Loki flushes them only for a packed entry).
    """
    if not line:
        return {}, None, None
    if line[:1] != b"{":
        return {ERROR_DETAILS_LABEL: _ERR_NOT_OBJECT}, None, JSON_PARSER_ERR
    text = _decode(line)
    pairs = _fast_decode(text, 0)
    labels: Labels = {}
    entry: str | None = None
    if type(pairs) is tuple:
        for key, value in pairs:
            if type(value) is not str:  # strings only (numbers are _Num)
                continue
            if key == PACKED_ENTRY_KEY:
                entry = value
            else:
                name = _sanitize(key, True)
                if name:
                    labels[name] = _clean(value)
    else:
        for key, item in _object_entries(text, 0):
            if isinstance(item, _JSONError):
                return {ERROR_DETAILS_LABEL: str(item)}, None, JSON_PARSER_ERR
            if item.kind != _STRING:
                continue
            assert key is not None
            if key == PACKED_ENTRY_KEY:
                raw = _unescape(item.text)
                if raw is None:
                    return {ERROR_DETAILS_LABEL: _ERR_STRING_ESCAPE}, None, JSON_PARSER_ERR
                entry = raw
            else:
                name = _sanitize(key, True)
                if name:
                    labels[name] = _unescape_value(item.text)
    if entry is None:
        return {}, None, None
    return labels, entry.encode("utf-8", "surrogateescape"), None


# --- logfmt -----------------------------------------------------------------------------------

_LF_GARBAGE = re.compile(rb"[^\x00-\x20]")
_LF_KEY = re.compile(rb'[^\x00-\x20="]*')
_LF_SPACE = re.compile(rb"[\x00-\x20]")
_LF_QUOTED = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # from just after the opening quote


class _LogfmtError(NamedTuple):
    pos: int  # 1-based, as go-logfmt reports it
    msg: str

    def __str__(self) -> str:
        return f"logfmt syntax error at pos {self.pos} : {self.msg}"


def _unexpected(c: int, pos: int) -> _LogfmtError:
    """Go's fmt %q of the byte: only '=' and '"' reach here, neither needs escaping."""
    return _LogfmtError(pos + 1, f"unexpected '{chr(c)}'")


def _match_end(rx: re.Pattern[bytes], line: bytes, pos: int) -> int:
    m = rx.match(line, pos)
    assert m is not None  # a `*` pattern always matches
    return m.end()


def _bad_key(key: bytes) -> bool:
    """go-logfmt rejects a key holding utf8.RuneError (invalid UTF-8, or U+FFFD itself)."""
    if key.isascii():
        return False
    try:
        return "\ufffd" in key.decode("utf-8")
    except UnicodeDecodeError:
        return True


def _logfmt_scan(line: bytes, pos: int) -> tuple[bool, bytes | None, str | None, int, _LogfmtError | None]:
    """One call of Loki's logfmt Decoder.ScanKeyval from `pos`.

    Returns (ok, key, value, next pos, error). ok=False with no error means only spaces were
    left; value None means no value (bare key, or `key=`).
    """
    n = len(line)
    m = _LF_GARBAGE.search(line, pos)
    if m is None:
        return False, None, None, n, None
    start = m.start()
    pos = _match_end(_LF_KEY, line, start)
    key = line[start:pos] if pos > start else None
    err: _LogfmtError | None = None
    if pos >= n or line[pos] <= 0x20:
        if key is not None and _bad_key(key):
            return False, None, None, pos, _LogfmtError(pos + 1, "invalid key")
        return True, key, None, pos, None
    c = line[pos]
    if c == 0x22:  # '"' inside a key
        err = _unexpected(c, pos)
    elif key is None:  # '=' with no key
        err = _unexpected(c, pos)
    elif _bad_key(key):
        err = _LogfmtError(pos + 1, "invalid key")
    if err is not None:
        m = _LF_SPACE.search(line, pos)
        return False, None, None, m.start() if m else n, err
    # equal
    pos += 1
    if pos >= n or line[pos] <= 0x20:
        return True, key, None, pos, None
    if line[pos] == 0x22:
        qstart = pos
        m = _LF_QUOTED.match(line, pos + 1)
        if m is None:
            return False, None, None, n, _LogfmtError(n + 1, "unterminated quoted value")
        pos = m.end()
        body = line[qstart + 1 : pos - 1]
        if b"\\" in body:
            value = _logfmt_unquote(body)
            if value is None:
                return False, None, None, pos, _LogfmtError(pos + 1, "invalid quoted value")
            return True, key, value, pos, None
        return True, key, _decode(body) if body else None, pos, None
    vstart = pos
    pos = _match_end(_LF_KEY, line, pos)
    if pos < n and line[pos] in (0x3D, 0x22):  # '=' or '"' inside a value
        err = _unexpected(line[pos], pos)
        m = _LF_SPACE.search(line, pos)
        return False, None, None, m.start() if m else n, err
    return True, key, _decode(line[vstart:pos]), pos, None


_LF_KEYC = rb'[^\x00-\x20="]'
_LF_QUOTED_VALUE = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_LF_END = rb"(?=[\x00-\x20]|\Z)"
# A line the decoder reads without any error: pairs separated by bytes <= 0x20, where a bare key
# or bare value must end at a separator and a quoted value may be followed by anything.
_LF_CLEAN_LINE = re.compile(
    rb"[\x00-\x20]*(?:(?:%s+=(?:%s|%s*%s)|%s+%s)[\x00-\x20]*)*\Z"
    % (_LF_KEYC, _LF_QUOTED_VALUE, _LF_KEYC, _LF_END, _LF_KEYC, _LF_END),
    re.S,
)
_LF_PAIR = re.compile(rb'(%s+)(?:=(?:"([^"\\]*(?:\\.[^"\\]*)*)"|(%s*)))?' % (_LF_KEYC, _LF_KEYC), re.S)


# The same two expressions over str, for the common all-ASCII line (no per-value decoding).
_LF_CLEAN_LINE_STR = re.compile(_LF_CLEAN_LINE.pattern.decode("latin-1"), re.S)
_LF_PAIR_STR = re.compile(_LF_PAIR.pattern.decode("latin-1"), re.S)
_LF_NAMES: dict[str, str] = {}


def _logfmt_ascii(line: bytes, keep_empty: bool) -> Labels | None:
    """parse_logfmt without params for an ASCII line the decoder reads cleanly, else None."""
    text = line.decode("ascii")
    if _LF_CLEAN_LINE_STR.match(text) is None:
        return None
    out: Labels = {}
    names = _LF_NAMES
    for key, quoted, bare in _LF_PAIR_STR.findall(text):
        name = names.get(key)
        if name is None:
            name = _sanitize(key, True)
            if len(names) < 4096:
                names[key] = name
        if quoted:
            if "\\" in quoted:
                v = _logfmt_unquote(quoted.encode("ascii"))
                if v is None:
                    return None
                v = _clean(v)
            else:
                v = quoted
        else:
            v = bare
        if name and (v or keep_empty):
            out.setdefault(name, v)  # a key seen twice: Loki keeps the first
    return out


def _logfmt_fast(line: bytes) -> list[tuple[bytes, str | None]] | None:
    """All (key, value) pairs of a line the decoder reads without any error, found by two C
    regex calls; None when anything would be an error, so the exact scanner takes over."""
    if _LF_CLEAN_LINE.match(line) is None:
        return None
    out: list[tuple[bytes, str | None]] = []
    for key, quoted, bare in _LF_PAIR.findall(line):
        if not key.isascii() and _bad_key(key):
            return None
        if quoted:
            value = _logfmt_unquote(quoted) if b"\\" in quoted else _decode(quoted)
            if value is None:
                return None
        else:
            value = _decode(bare) if bare else None
        out.append((key, value))
    return out


def _logfmt_unquote(body: bytes) -> str | None:
    """go-logfmt's unquoteBytes (encoding/json rules plus `\\'`); None if it fails."""
    s = _decode(body)
    out: list[str] = []
    pos = 0
    n = len(s)
    while True:
        i = s.find("\\", pos)
        if i < 0:
            out.append(s[pos:])
            return "".join(out)
        out.append(s[pos:i])
        if i + 1 >= n:
            return None
        c = s[i + 1]
        if c in "\"\\/'":
            out.append(c)
            pos = i + 2
        elif c in "bfnrt":
            out.append(_SIMPLE_ESCAPES[c])
            pos = i + 2
        elif c == "u":
            if not _HEX4.match(s, i + 2):
                return None
            r = int(s[i + 2 : i + 6], 16)
            pos = i + 6
            if 0xD800 <= r <= 0xDFFF:
                second = s.startswith("\\u", i + 6) and _HEX4.match(s, i + 8)
                r2 = int(s[i + 8 : i + 12], 16) if second else -1
                if r < 0xDC00 and 0xDC00 <= r2 < 0xE000:
                    r = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)
                    pos = i + 12
                else:
                    r = 0xFFFD
            out.append(chr(r))
        else:
            return None


def _logfmt_pairs(line: bytes, strict: bool) -> Iterator[tuple[bytes | _LogfmtError, str | None]]:
    """The decoder's key/value pairs; in strict mode the first error ends them (yielded in the
    key position). Non-strict mode skips malformed pairs silently, as Loki does."""
    fast = _logfmt_fast(line)
    if fast is not None:
        yield from fast
        return
    n = len(line)
    pos = 0
    while pos < n:
        ok, key, value, pos, err = _logfmt_scan(line, pos)
        if not ok:
            if strict:
                if err is not None:
                    yield err, None
                return
            continue
        assert key is not None
        yield key, value


@functools.lru_cache(maxsize=1024)
def _logfmt_param(expr: str) -> str:
    """Loki's logfmt expression: an identifier, or a quoted key."""
    e = expr.strip(" \t\n")
    if e.startswith('"'):
        end = e.find('"', 1)
        return e[1:] if end < 0 else e[1:end]
    if not e or not (e[0].isascii() and (e[0].isalpha() or e[0] == "_")):
        raise ValueError(f"cannot parse expression [{expr}]: unexpected char {e[:1] or 'EOF'}")
    m = re.match(r"[a-zA-Z_][a-zA-Z0-9_]*", e)
    assert m is not None
    if m.end() != len(e):
        raise ValueError(f"cannot parse expression [{expr}]: unexpected char {e[m.end()]}")
    return e


def check_logfmt_params(params: Sequence[tuple[str, str]]) -> None:
    """Validate `| logfmt name="key"` once, when the pipeline is built (ValueError if bad), as
    Loki's NewLogfmtExpressionParser does."""
    for name, expr in params:
        _check_label_name(name)
        _logfmt_param(expr)


def parse_logfmt(
    line: bytes,
    params: Params = None,
    strict: bool = False,
    keep_empty: bool = False,
    base: Mapping[str, str] | None = None,
) -> tuple[Labels, str | None]:
    """Loki's `| logfmt [--strict] [--keep-empty] [name="key", ...]`.

    Keys are sanitized label names; the last occurrence of a key wins. Empty values are dropped
    unless keep_empty (which Loki ignores when params are given: every requested key is set,
    "" when absent unless `base` has it). Only strict mode reports LogfmtParserErr.
    """
    wanted: dict[str, str] | None = None  # source key -> label name
    if params:
        wanted = {}
        for name, expr in params:
            _check_label_name(name)
            wanted.setdefault(_logfmt_param(expr), name)
    out: Labels = {}
    if wanted is not None:
        for name, _ in params or ():
            if base is None or name not in base:
                out[name] = ""
        names = {name for name, _ in params or ()}
    if wanted is None and line.isascii():
        fast = _logfmt_ascii(line, keep_empty)
        if fast is not None:
            return fast, None
    error: _LogfmtError | None = None
    for key, value in _logfmt_pairs(line, strict):
        if isinstance(key, _LogfmtError):
            error = key
            break
        name = _sanitize(key.decode("utf-8", "surrogateescape"), True)
        if not name:
            continue
        if wanted is not None:
            name = wanted.get(name, name)
            if name not in names:
                continue
            out[name] = "" if value is None or _RUNE_ERROR.search(value) else value
            continue
        v = "" if value is None else _clean(value)
        if not v and not keep_empty:
            continue
        out.setdefault(name, v)  # a key seen twice: Loki keeps the first
    if strict and error is not None:
        out[ERROR_DETAILS_LABEL] = str(error)
        return out, LOGFMT_PARSER_ERR
    return out, None


# --- regexp -----------------------------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_UNANCHORED = re2._Anchor.UNANCHORED


_RE_ESCAPE = re.compile(r"\\.", re.S)
_RE_CLASS = re.compile(r"\[\^?\]?[^\]]*\]")
_RE_GROUP_NAME = re.compile(r"\(\?P?<([^>]*)>")


class RegexpParser:
    """Compiled `| regexp "..."`: named groups of the first match become labels."""

    __slots__ = ("pattern", "names", "_match", "_groups")

    def __init__(self, pattern: str, names: list[tuple[int, str]], program: Any) -> None:
        self.pattern = pattern
        self.names = [name for _, name in names]
        self._groups = names
        self._match = program._regexp.Match

    def parse(self, line: bytes) -> Labels:
        """Labels for one line; {} when the pattern does not match (the line is kept)."""
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                line = _fffd(line).encode("utf-8")  # Go reads each bad byte as U+FFFD
        spans = self._match(_UNANCHORED, line, 0, len(line))
        if spans[0][0] < 0:
            return {}
        out: Labels = {}
        for idx, name in self._groups:
            s, e = spans[idx]
            out[name] = line[s:e].decode("utf-8") if s >= 0 else ""  # a group that took no part: ""
        return out


@functools.lru_cache(maxsize=256)
def compile_regexp_parser(pattern: str) -> RegexpParser:
    """Validate and compile a regexp parser (Go/RE2 syntax; `(?P<n>..)` and `(?<n>..)`)."""
    try:
        program = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        msg = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        raise ValueError(f"error parsing regexp: {msg}") from None
    if program.groups == 0:
        raise ValueError("at least one named capture must be supplied")
    names: list[tuple[int, str]] = []
    for name, idx in sorted(program.groupindex.items(), key=lambda kv: kv[1]):
        if isinstance(name, bytes):
            name = name.decode()
        _check_label_name(name)
        names.append((idx, name))
    # RE2 accepts a repeated name (keeping the first); Go does too, and Loki rejects it.
    seen: set[str] = set()
    bare = _RE_CLASS.sub("", _RE_ESCAPE.sub("", pattern))
    for m in _RE_GROUP_NAME.finditer(bare):
        if m.group(1) in seen:
            raise ValueError(f"duplicate extracted label name '{m.group(1)}'")
        seen.add(m.group(1))
    if not names:
        raise ValueError("at least one named capture must be supplied")
    return RegexpParser(pattern, names, program)


# --- pattern ----------------------------------------------------------------------------------

_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


class PatternParser:
    """Compiled `| pattern "..."`: `<name>` captures and `<_>` placeholders between literals."""

    __slots__ = ("pattern", "names", "_head", "_steps", "_tail")

    def __init__(self, pattern: str, nodes: list[tuple[bool, str]]) -> None:
        self.pattern = pattern
        self.names = [v for is_cap, v in nodes if is_cap and v != "_"]
        self._head: bytes | None = None
        if nodes and not nodes[0][0]:
            self._head = nodes[0][1].encode("utf-8")
            nodes = nodes[1:]
        # (capture name or None for <_>, literal after it); a trailing capture has no literal.
        self._steps: list[tuple[str | None, bytes]] = []
        self._tail: str | None = None  # a named capture ending the pattern takes the rest
        for k in range(0, len(nodes), 2):
            name = nodes[k][1]
            cap = None if name == "_" else name
            if k + 1 < len(nodes):
                self._steps.append((cap, nodes[k + 1][1].encode("utf-8")))
            else:
                self._tail = cap

    def parse(self, line: bytes) -> Labels:
        """Loki's pattern Matcher: left to right, each capture up to the next literal's first
        occurrence; when a literal is missing the capture takes the rest and matching stops."""
        if not line:
            return {}
        pos = 0
        if self._head is not None:
            if not line.startswith(self._head):
                return {}
            pos = len(self._head)
        out: Labels = {}
        for cap, lit in self._steps:
            i = line.find(lit, pos)
            if i < 0:
                if cap is not None:
                    out[cap] = _fffd(line[pos:])
                return out
            if cap is not None:
                out[cap] = _fffd(line[pos:i])
            pos = i + len(lit)
        if self._tail is not None:
            out[self._tail] = _fffd(line[pos:])
        return out


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> PatternParser:
    """Validate and compile a pattern expression; ValueError with Loki's wording on misuse."""
    if not pattern:
        raise ValueError("syntax error: empty pattern")
    nodes: list[tuple[bool, str]] = []  # (is_capture, name or literal text)
    pos = 0
    for m in _CAPTURE.finditer(pattern):
        if m.start() > pos:
            nodes.append((False, pattern[pos : m.start()]))
        nodes.append((True, m.group(1)))
        pos = m.end()
    if pos < len(pattern):
        nodes.append((False, pattern[pos:]))
    names = [v for is_cap, v in nodes if is_cap and v != "_"]
    if not names:
        raise ValueError("at least one capture is required")
    for a, b in zip(nodes, nodes[1:]):
        if a[0] and b[0]:
            raise ValueError("found consecutive capture: invalid expression")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate capture name ({name}): invalid expression")
        seen.add(name)
    return PatternParser(pattern, nodes)
