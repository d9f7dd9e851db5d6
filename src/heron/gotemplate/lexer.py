"""Go's text/template lexer: text, delimiters with trim markers, comments, tokens."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from heron.gotemplate.errors import TemplateError

# --- lexer ------------------------------------------------------------------------------------


class _Tok(NamedTuple):
    kind: str  # TEXT LEFT RIGHT PIPE LPAREN RPAREN DECLARE ASSIGN COMMA STRING CHAR NUMBER
    #            BOOL NIL DOT FIELD VAR IDENT KEYWORD EOF
    value: Any
    pos: int
    space: bool  # whitespace right before it (a field chain must be unbroken)
    raw: str = ""  # source text, for error messages


_KEYWORDS = {"if", "else", "end", "with", "range", "define", "template", "block", "break", "continue"}
_SPACE = " \t\r\n"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = re.compile(r"[A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+"
    r"|[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)"
)
_TERMINATORS = set(_SPACE) | set(".,|:)(")
_NUMBER_START = set("0123456789.")


class _Lexer:
    """Go text/template's lexer, for the default `{{` `}}` delimiters."""

    def __init__(self, text: str, name: str) -> None:
        self.text, self.name = text, name
        self.tokens: list[_Tok] = []

    def error(self, pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}:{self.text.count(chr(10), 0, pos) + 1}: {msg}")

    def run(self) -> list[_Tok]:
        text = self.text
        n = len(text)
        pos = 0
        trim_next = False
        while True:
            j = text.find("{{", pos)
            seg = text[pos:] if j < 0 else text[pos:j]
            if trim_next:
                seg = seg.lstrip(_SPACE)
            if j < 0:
                if seg:
                    self.tokens.append(_Tok("TEXT", seg, pos, False))
                self.tokens.append(_Tok("EOF", None, n, False))
                return self.tokens
            k = j + 2
            if text.startswith("-", k) and k + 1 < n and text[k + 1] in _SPACE:
                seg = seg.rstrip(_SPACE)
                k += 2
            if seg:
                self.tokens.append(_Tok("TEXT", seg, pos, False))
            if text.startswith("/*", k):
                end = text.find("*/", k + 2)
                if end < 0:
                    raise self.error(j, "unclosed comment")
                k = end + 2
                if text.startswith(" -}}", k):
                    pos, trim_next = k + 4, True
                elif text.startswith("}}", k):
                    pos, trim_next = k + 2, False
                else:
                    raise self.error(j, "comment ends before closing delimiter")
                continue
            self.tokens.append(_Tok("LEFT", None, j, False))
            pos, trim_next = self.action(k)

    def action(self, k: int) -> tuple[int, bool]:
        """Tokens of one action from k; returns the position after `}}` and the trim flag."""
        text = self.text
        n = len(text)
        paren = 0
        while True:
            start = k
            while k < n and text[k] in _SPACE:
                k += 1
            space = k > start
            if space and text.startswith("-}}", k):
                self.tokens.append(_Tok("RIGHT", None, k, space))
                return k + 3, True
            if text.startswith("}}", k):
                if paren:
                    raise self.error(k, "unclosed left paren")
                self.tokens.append(_Tok("RIGHT", None, k, space))
                return k + 2, False
            if k >= n:
                raise self.error(k, "unclosed action")
            c = text[k]
            single = {"|": "PIPE", "(": "LPAREN", ")": "RPAREN", ",": "COMMA"}
            if c in single:
                paren += {"(": 1, ")": -1}.get(c, 0)
                if paren < 0:
                    raise self.error(k, "unexpected right paren")
                self.tokens.append(_Tok(single[c], c, k, space, c))
                k += 1
            elif c == ":" and text.startswith(":=", k):
                self.tokens.append(_Tok("DECLARE", ":=", k, space, ":="))
                k += 2
            elif c == "=":
                self.tokens.append(_Tok("ASSIGN", "=", k, space, "="))
                k += 1
            elif c == '"':
                end = k + 1
                while end < n and text[end] != '"':
                    if text[end] == "\n":
                        raise self.error(k, "unterminated quoted string")
                    end += 2 if text[end] == "\\" else 1
                if end >= n:
                    raise self.error(k, "unterminated quoted string")
                raw = text[k : end + 1]
                self.tokens.append(_Tok("STRING", self.unquote(raw, k), k, space, raw))
                k = end + 1
            elif c == "`":
                end = text.find("`", k + 1)
                if end < 0:
                    raise self.error(k, "unterminated raw quoted string")
                raw = text[k : end + 1]
                self.tokens.append(_Tok("STRING", raw[1:-1], k, space, raw))
                k = end + 1
            elif c == "'":
                end = k + 1
                while end < n and text[end] != "'":
                    if text[end] == "\n":
                        raise self.error(k, "unterminated character constant")
                    end += 2 if text[end] == "\\" else 1
                if end >= n:
                    raise self.error(k, "unterminated character constant")
                raw = text[k : end + 1]
                value = self.unquote('"' + raw[1:-1].replace('"', '\\"') + '"', k)
                if len(value) != 1:
                    raise self.error(k, f"malformed character constant: {raw}")
                self.tokens.append(_Tok("CHAR", ord(value), k, space, raw))
                k = end + 1
            elif c == "$":
                m = _FIELD.match(text, k + 1)
                assert m is not None
                self.tokens.append(_Tok("VAR", "$" + m.group(), k, space, "$" + m.group()))
                k = self.terminated(m.end())
            elif c == "." and not (k + 1 < n and text[k + 1].isdigit()):
                m = _FIELD.match(text, k + 1)
                assert m is not None
                if m.group():
                    self.tokens.append(_Tok("FIELD", m.group(), k, space, "." + m.group()))
                else:
                    self.tokens.append(_Tok("DOT", ".", k, space, "."))
                k = self.terminated(m.end())
            elif c.isdigit() or c == "." or (c in "+-" and k + 1 < n and text[k + 1] in _NUMBER_START):
                m = _NUMBER.match(text, k)
                assert m is not None
                end = m.end()
                if end < n and (text[end].isalnum() or text[end] == "_"):
                    raise self.error(k, f"bad number syntax: {text[k : end + 1]!r}")
                self.tokens.append(_Tok("NUMBER", m.group(), k, space, m.group()))
                k = end
            elif c.isalpha() or c == "_":
                m = _IDENT.match(text, k)
                if m is None:
                    raise self.error(k, f"bad character {c!r}")
                word = m.group()
                if word in ("true", "false"):
                    self.tokens.append(_Tok("BOOL", word == "true", k, space, word))
                elif word == "nil":
                    self.tokens.append(_Tok("NIL", None, k, space, word))
                elif word in _KEYWORDS:
                    self.tokens.append(_Tok("KEYWORD", word, k, space, word))
                else:
                    self.tokens.append(_Tok("IDENT", word, k, space, word))
                k = self.terminated(m.end())
            else:
                raise self.error(k, f"unrecognized character in action: {c!r}")

    def terminated(self, k: int) -> int:
        """A word must end at a terminator, as Go's lexer insists."""
        text = self.text
        if k < len(text) and text[k] not in _TERMINATORS and not text.startswith("}}", k):
            raise self.error(k, f"bad character {text[k]!r}")
        return k

    def unquote(self, raw: str, pos: int) -> str:
        """strconv.Unquote of a double-quoted Go string literal."""
        body = raw[1:-1]
        if "\\" not in body:
            return body
        out: list[str] = []
        i = 0
        while i < len(body):
            c = body[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            e = body[i + 1 : i + 2]
            simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                      "\\": "\\", '"': '"'}  # fmt: skip
            if e in simple:
                out.append(simple[e])
                i += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(e)
            if width:
                digits = body[i + 2 : i + 2 + width]
                if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                    raise self.error(pos, f"invalid syntax: {raw}")
                cp = int(digits, 16)
                if e != "x" and (cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF):
                    raise self.error(pos, f"invalid syntax: {raw}")
                out.append(chr(cp))
                i += 2 + width
                continue
            if e and e in "01234567":
                digits = body[i + 1 : i + 4]
                if not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                    raise self.error(pos, f"invalid syntax: {raw}")
                out.append(chr(int(digits, 8)))
                i += 4
                continue
            raise self.error(pos, f"invalid syntax: {raw}")
        return "".join(out)
