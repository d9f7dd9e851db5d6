"""The parse tree and Go's parser: pipelines, commands, control flow, variable scopes."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from heron.gotemplate.convert import _parse_go_float, _parse_go_int
from heron.gotemplate.errors import TemplateError
from heron.gotemplate.functions import _Fn
from heron.gotemplate.gofmt import _go_quote
from heron.gotemplate.lexer import _Lexer, _Tok

_LAZY = {"and", "or"}
_LINE_FN, _TS_FN = "__line__", "__timestamp__"
_UNSUPPORTED = {"define", "template", "block", "call"}

# --- parse tree -------------------------------------------------------------------------------


class _Num(NamedTuple):
    """A number literal as text/template's parse.NumberNode sees it."""

    text: str
    is_int: bool
    int_val: int
    is_float: bool
    float_val: float
    is_char: bool = False


def _number(text: str, is_char: bool = False, char_val: int = 0) -> _Num | None:
    if is_char:
        return _Num(text, True, char_val, True, float(char_val), True)
    clean = text
    i = _parse_go_int(clean)
    if i is not None:
        return _Num(text, True, i, True, float(i))
    f = _parse_go_float(clean)
    if f is None:
        return None
    if not any(c in text for c in ".eEpP"):
        return None  # an integer too large for int64: Go rejects it
    if f.is_integer() and abs(f) < 2.0**63:
        return _Num(text, True, int(f), True, f)
    return _Num(text, False, 0, True, f)


class _Lit(NamedTuple):
    kind: str  # "string", "number", "bool", "nil"
    value: Any
    raw: str
    pos: int = 0


class _Field(NamedTuple):
    base: Any  # "dot", "root", or a parenthesised _Pipe
    chain: tuple[str, ...]
    raw: str
    pos: int = 0


class _Ident(NamedTuple):
    name: str
    raw: str
    pos: int = 0


class _Cmd(NamedTuple):
    args: list[Any]
    pos: int
    raw: str


class _Pipe(NamedTuple):
    cmds: list[_Cmd]
    pos: int
    decl: tuple[str, ...] = ()  # `$x :=` / `$i, $v :=` variables the pipeline's value goes to
    assign: bool = False  # `$x =`: the variable exists already


class _Action(NamedTuple):
    pipe: _Pipe


class _Loop(NamedTuple):
    word: str  # "break" or "continue", inside a {{range}}


class _Branch(NamedTuple):
    kind: str  # "if", "with" or "range"
    pipe: _Pipe
    body: list[Any]
    orelse: list[Any] | None


class _Parser:
    def __init__(self, lexer: _Lexer, functions: Mapping[str, _Fn]) -> None:
        self.lx = lexer
        self.functions = functions
        self.toks = lexer.run()
        self.i = 0
        self.vars: list[str] = ["$"]  # declared variables in scope, as Go's parser tracks them
        self.declares = False  # any `:=` at all: renders then need a variable stack of their own
        self.range_depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, tok: _Tok, msg: str) -> TemplateError:
        return self.lx.error(tok.pos, msg)

    def expect(self, kind: str, context: str) -> _Tok:
        tok = self.next()
        if tok.kind != kind:
            raise self.error(tok, f"unexpected {self.describe(tok)} in {context}")
        return tok

    @staticmethod
    def describe(tok: _Tok) -> str:
        if tok.kind == "EOF":
            return "EOF"
        if tok.kind == "RIGHT":
            return '"}}"'
        return f'"{tok.raw or tok.value}"'

    def parse(self) -> list[Any]:
        nodes, stop = self.parse_list()
        if stop is not None:
            raise self.error(stop, f"unexpected {{{{{stop.value}}}}}")
        return nodes

    def parse_list(self) -> tuple[list[Any], _Tok | None]:
        """Nodes up to EOF (stop None) or an `{{else ...` / `{{end` action (its keyword token)."""
        nodes: list[Any] = []
        while True:
            tok = self.next()
            if tok.kind == "EOF":
                return nodes, None
            if tok.kind == "TEXT":
                nodes.append(tok.value)
                continue
            first = self.peek()  # after LEFT
            if first.kind == "KEYWORD":
                word = first.value
                if word in ("else", "end"):
                    self.next()
                    return nodes, first
                if word in ("if", "with", "range"):
                    self.next()
                    nodes.append(self.parse_branch(word, first))
                    continue
                if word in ("break", "continue"):
                    self.next()
                    if not self.range_depth:
                        raise self.error(first, f"{{{{{word}}}}} outside {{{{range}}}}")
                    self.expect("RIGHT", word)
                    nodes.append(_Loop(word))
                    continue
                raise self.error(first, f'"{word}" is not supported by this LogQL engine')
            pipe = self.parse_pipeline("command")
            self.expect("RIGHT", "command")
            nodes.append(_Action(pipe))

    def parse_branch(self, kind: str, kw: _Tok) -> _Branch:
        """A control structure; variables declared in it go out of scope at its {{end}}."""
        mark = len(self.vars)
        try:
            return self._parse_branch(kind, kw)
        finally:
            del self.vars[mark:]

    def _parse_branch(self, kind: str, kw: _Tok) -> _Branch:
        pipe = self.parse_pipeline(kind)
        self.expect("RIGHT", kind)
        self.range_depth += kind == "range"
        try:
            body, stop = self.parse_list()
        finally:
            self.range_depth -= kind == "range"
        if stop is None:
            raise self.error(self.toks[self.i - 1], "unexpected EOF")
        if stop.value == "end":
            self.expect("RIGHT", "end")
            return _Branch(kind, pipe, body, None)
        # else
        nxt = self.peek()
        if nxt.kind == "KEYWORD" and nxt.value in ("if", "with"):  # {{else if}}: shares the {{end}}
            self.next()
            return _Branch(kind, pipe, body, [self.parse_branch(nxt.value, nxt)])
        self.expect("RIGHT", "else")
        orelse, stop2 = self.parse_list()
        if stop2 is None:
            raise self.error(self.toks[self.i - 1], "unexpected EOF")
        if stop2.value != "end":
            raise self.error(stop2, "expected end; found {{else}}")
        self.expect("RIGHT", "end")
        return _Branch(kind, pipe, body, orelse)

    def parse_pipeline(self, context: str) -> _Pipe:
        start = self.peek()
        decl, assign = self.parse_declaration(context)
        start = self.peek()
        if start.kind in ("RIGHT", "RPAREN", "EOF"):
            raise self.error(start, f"missing value for {context}")
        cmds: list[_Cmd] = []
        while True:
            cmds.append(self.parse_command(len(cmds)))  # "empty command" if nothing is there
            if self.peek().kind != "PIPE":
                return _Pipe(cmds, start.pos, decl, assign)
            self.next()

    def parse_declaration(self, context: str) -> tuple[tuple[str, ...], bool]:
        """`$x :=`, `$x =`, and in a range `$i, $v :=`, as Go's parser reads them."""
        toks, i = self.toks, self.i
        if toks[i].kind != "VAR":
            return (), False
        if toks[i + 1].kind in ("DECLARE", "ASSIGN"):
            names, op = (toks[i].value,), toks[i + 1]
            self.i += 2
        elif toks[i + 1].kind == "COMMA" and context == "range" and toks[i + 2].kind == "VAR":
            if toks[i + 3].kind == "COMMA":
                raise self.error(toks[i + 3], "too many declarations in range")
            if toks[i + 3].kind not in ("DECLARE", "ASSIGN"):
                raise self.error(toks[i + 3], f"unexpected {self.describe(toks[i + 3])} in range")
            names, op = (toks[i].value, toks[i + 2].value), toks[i + 3]
            self.i += 4
        elif toks[i + 1].kind == "COMMA":
            raise self.error(toks[i + 1], f"too many declarations in {context}")
        else:
            return (), False
        if op.kind == "ASSIGN":
            for name in names:
                if name not in self.vars:
                    raise self.error(op, f"undefined variable {_go_quote(name)}")
        else:
            self.vars.extend(names)
        self.declares = True
        return names, op.kind == "ASSIGN"

    def parse_command(self, stage: int) -> _Cmd:
        args: list[Any] = []
        start = self.peek()
        while self.peek().kind not in ("PIPE", "RIGHT", "RPAREN", "EOF"):
            tok = self.peek()
            if args and not tok.space and tok.kind not in ("LPAREN",):
                raise self.error(tok, f"missing space? {self.describe(tok)}")
            args.append(self.parse_operand())
        if not args:
            raise self.error(start, "empty command")
        head = args[0]
        raw = self.lx.text[start.pos : self.peek().pos].strip()
        if isinstance(head, _Lit) and head.kind == "nil":
            raise self.error(start, "nil is not a command")
        # Go's checkPipeline refuses only constants and `.` after a pipe; fields fail when run
        constant = isinstance(head, _Lit) or (
            isinstance(head, _Field) and head.base == "dot" and not head.chain
        )
        if stage > 0 and constant:
            raise self.error(start, f"non executable command in pipeline stage {stage + 1}")
        return _Cmd(args, start.pos, raw)

    def parse_operand(self) -> Any:
        tok = self.next()
        node: Any
        if tok.kind == "IDENT":
            name = tok.value
            if name not in self.functions and name not in _LAZY and name not in (_LINE_FN, _TS_FN):
                if name in _UNSUPPORTED:
                    raise self.error(tok, f'function "{name}" is not supported by this LogQL engine')
                raise self.error(tok, f'function "{name}" not defined')
            node = _Ident(name, tok.raw, tok.pos)
        elif tok.kind == "DOT":
            node = _Field("dot", (), ".", tok.pos)
        elif tok.kind == "FIELD":
            node = _Field("dot", (tok.value,), tok.raw, tok.pos)
        elif tok.kind == "VAR":
            if tok.value == "$":
                node = _Field("root", (), "$", tok.pos)
            elif tok.value in self.vars:
                node = _Field(("var", tok.value), (), tok.value, tok.pos)
            else:
                raise self.error(tok, f"undefined variable {_go_quote(tok.value)}")
        elif tok.kind == "STRING":
            node = _Lit("string", tok.value, tok.raw, tok.pos)
        elif tok.kind == "CHAR":
            node = _Lit("number", _number(tok.raw, True, tok.value), tok.raw, tok.pos)
        elif tok.kind == "NUMBER":
            num = _number(tok.value)
            if num is None:
                raise self.error(tok, f"illegal number syntax: {tok.value!r}")
            node = _Lit("number", num, tok.raw, tok.pos)
        elif tok.kind == "BOOL":
            node = _Lit("bool", tok.value, tok.raw, tok.pos)
        elif tok.kind == "NIL":
            node = _Lit("nil", None, "nil", tok.pos)
        elif tok.kind == "LPAREN":
            pipe = self.parse_pipeline("parenthesized pipeline")
            self.expect("RPAREN", "parenthesized pipeline")
            node = _Field(pipe, (), self.lx.text[tok.pos : self.toks[self.i - 1].pos + 1], tok.pos)
        else:
            raise self.error(tok, f"unexpected {self.describe(tok)} in operand")
        # a field chain glued on: .a.b, $.a, (pipeline).a
        chain: list[str] = []
        while self.peek().kind == "FIELD" and not self.peek().space:
            chain.append(self.next().value)
        if chain:
            if isinstance(node, _Field):
                raw = node.raw + "." + ".".join(chain)
                node = _Field(node.base, node.chain + tuple(chain), raw, node.pos)
            else:
                raise self.error(tok, f"unexpected . after term {tok.raw!r}")
        return node
