"""Compiles a parse tree into closures and renders it, with Go's execution semantics."""

from __future__ import annotations

import decimal
from typing import Any, Callable, Mapping

from heron.gotemplate.builtins import BUILTINS
from heron.gotemplate.errors import TemplateError, TemplateExecError, _FnError
from heron.gotemplate.functions import _A, _F, _I, _S, _T, _Fn
from heron.gotemplate.gotime import GoTime
from heron.gotemplate.lexer import _Lexer
from heron.gotemplate.parse import (
    _LAZY,
    _LINE_FN,
    _TS_FN,
    _Action,
    _Branch,
    _Cmd,
    _Field,
    _Ident,
    _Lit,
    _Loop,
    _Num,
    _Parser,
    _Pipe,
)
from heron.gotemplate.size import DEFAULT_MAX_BYTES, _too_long, _utf8_len
from heron.gotemplate.values import _format_v, _truth, _type_name

# --- compiled form ----------------------------------------------------------------------------


class _Ctx:
    """What one render sees: the label map (dot and $), the line and the timestamp, and the
    output limit with the characters emitted so far (a lower bound of the bytes)."""

    __slots__ = ("root", "line", "ts_ns", "limit", "size", "vars", "steps")

    def __init__(self, root: Mapping[str, str], line: str, ts_ns: int, limit: int) -> None:
        self.root, self.line, self.ts_ns = root, line, ts_ns
        self.limit, self.size, self.steps = limit, 0, 0
        # `vars`, [name, value] pairs innermost last as Go's stack, is set only for a template
        # that declares variables: the others never touch it, and a render allocates nothing.

    def lookup(self, name: str) -> Any:
        for pair in reversed(self.vars):
            if pair[0] == name:
                return pair[1]
        raise _Exec(f"undefined variable: {name}")

    def bind(self, names: tuple[str, ...], values: tuple[Any, ...], assign: bool) -> None:
        for name, value in zip(names, values):
            if assign:
                for pair in reversed(self.vars):
                    if pair[0] == name:
                        pair[1] = value
                        break
            else:
                self.vars.append([name, value])


class _LoopSignal(Exception):
    """{{break}} / {{continue}} unwinding to the innermost {{range}}."""

    def __init__(self, word: str) -> None:
        self.word = word


Eval = Callable[[Any, _Ctx], Any]
Emit = Callable[[Any, _Ctx, list[str]], None]

_GO_TYPE = {_S: "string", _I: "int", _F: "float64", "bool": "bool", _T: "time.Time", _A: "interface {}"}


# Nested ranges multiply (four ranges over 60 elements are 13M iterations) and may emit
# nothing, so the output limit does not bound them: one render stops past this many range
# iterations, all ranges together, and the entry gets the error. The query's deadline is only
# checked between batches of lines, so one line must stay cheap.
MAX_RANGE_STEPS = 10_000


class _Exec(Exception):
    """A render error before the location is attached."""


def _coerce(v: Any, kind: str) -> Any:
    """text/template's validateType: a runtime value must already have the parameter's type."""
    if kind == _A:
        return v
    ok = (
        isinstance(v, str)
        if kind == _S
        else isinstance(v, int) and not isinstance(v, bool)
        if kind == _I
        else isinstance(v, float)
        if kind == _F
        else isinstance(v, GoTime)
        if kind == _T
        else isinstance(v, bool)
    )
    if ok:
        return v
    if v is None:
        raise _Exec(f"invalid value; expected {_GO_TYPE[kind]}")
    raise _Exec(f"wrong type for value; expected {_GO_TYPE[kind]}; got {_type_name(v)}")


def _literal_as(lit: _Lit, kind: str) -> Any:
    """text/template's evalArg for a constant: convert it to the parameter type, or fail."""
    if lit.kind == "nil":
        if kind == _A:
            return None
        raise _Exec(f"cannot assign nil to {_GO_TYPE[kind]}")
    if lit.kind == "string":
        if kind in (_S, _A):
            return lit.value
    elif lit.kind == "bool":
        if kind in ("bool", _A):
            return lit.value
    else:
        num: _Num = lit.value
        if kind == _I and num.is_int:
            return num.int_val
        if kind == _F and num.is_float:
            return num.float_val
        if kind == _A:
            # idealConstant: a float if written like one, else an int
            hex_int = num.text.lstrip("+-")[:2] in ("0x", "0X") and not any(c in num.text for c in "pP")
            if num.is_float and not hex_int and not num.is_char and any(c in num.text for c in ".eEpP"):
                return num.float_val
            if num.is_int:
                return num.int_val
            raise _Exec(f"{num.text} overflows int")
    expected = {_S: "string", _I: "integer", _F: "float", "bool": "bool"}.get(kind)
    if expected is None:
        raise _Exec(f"can't handle {lit.raw} for arg of type {_GO_TYPE[kind]}")
    raise _Exec(f"expected {expected}; found {lit.raw}")


class _Compiler:
    def __init__(self, name: str, text: str, functions: Mapping[str, _Fn], declares: bool) -> None:
        self.name, self.text, self.functions = name, text, functions
        self.declares = declares  # only then do control structures scope variables

    def where(self, pos: int) -> str:
        line = self.text.count("\n", 0, pos) + 1
        # Go's ErrorContext counts the column as a 0-based byte offset within the line
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        return f"template: {self.name}:{line}:{col}"

    def wrap(self, pos: int, raw: str, exc: BaseException) -> TemplateExecError:
        return TemplateExecError(f'{self.where(pos)}: executing "{self.name}" at <{raw}>: {exc}')

    # lists and control flow

    def list(self, nodes: list[Any]) -> Emit:
        parts: list[Emit] = []
        for node in nodes:
            if isinstance(node, str):
                parts.append(_emit_text(node))
            elif isinstance(node, _Action):
                parts.append(self.action(node))
            elif isinstance(node, _Loop):
                parts.append(_loop_signal(node.word))
            elif node.kind == "range":
                parts.append(self.range_(node))
            else:
                parts.append(self.branch(node))
        if len(parts) == 1:
            return parts[0]

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            for part in parts:
                part(dot, ctx, out)

        return run

    def action(self, node: _Action) -> Emit:
        pipe = self.pipe(node.pipe)
        pos = node.pipe.pos
        end = node.pipe.cmds[-1].pos + len(node.pipe.cmds[-1].raw) if node.pipe.cmds else pos
        wrap, raw = self.wrap, self.text[pos:end].strip()
        if node.pipe.decl:  # a declaration prints nothing

            def declare(dot: Any, ctx: _Ctx, out: list[str]) -> None:
                pipe(dot, ctx)

            return declare

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            v = pipe(dot, ctx)
            text = v if type(v) is str else _format_v(v)
            ctx.size += len(text)
            if ctx.size > ctx.limit:
                raise wrap(pos, raw, _Exec(_too_long(ctx.size, ctx.limit, partial=True)))
            out.append(text)

        return run

    def branch(self, node: _Branch) -> Emit:
        cond = self.pipe(node.pipe)
        body = self.list(node.body)
        orelse = self.list(node.orelse) if node.orelse is not None else None
        is_with = node.kind == "with"

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            v = cond(dot, ctx)
            if _truth(v):
                body(v if is_with else dot, ctx, out)
            elif orelse is not None:
                orelse(dot, ctx, out)

        if not self.declares:
            return run

        def scoped(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            mark = len(ctx.vars)
            run(dot, ctx, out)
            del ctx.vars[mark:]

        return scoped

    def range_(self, node: _Branch) -> Emit:
        """Go's walkRange: slices by index, maps by sorted key, nil as empty; dot is the element.

        Ranging over an integer (Go 1.22) is refused, so a template cannot loop without data."""
        decl = node.pipe.decl
        value = self.pipe(node.pipe._replace(decl=()))
        body = self.list(node.body)
        orelse = self.list(node.orelse) if node.orelse is not None else None
        assign = node.pipe.assign
        wrap, pos = self.wrap, node.pipe.pos
        raw = "range " + self.text[pos : node.pipe.cmds[-1].pos + len(node.pipe.cmds[-1].raw)].strip()
        scoped = self.declares

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            mark = len(ctx.vars) if scoped else 0
            v = value(dot, ctx)
            if isinstance(v, Mapping):
                items: Any = ((k, v[k]) for k in sorted(v))
            elif isinstance(v, list):
                items = enumerate(v)
            elif v is None:
                items = ()
            else:
                raise wrap(pos, raw, _Exec(f"range can't iterate over {_format_v(v)}"))
            empty = True
            for key, elem in items:
                empty = False
                ctx.steps += 1
                if ctx.steps > MAX_RANGE_STEPS:
                    raise wrap(pos, raw, _Exec(f"more than {MAX_RANGE_STEPS} range iterations in one render"))
                if scoped:
                    del ctx.vars[mark:]
                if decl:
                    ctx.bind(decl, (elem,) if len(decl) == 1 else (key, elem), assign)
                try:
                    body(elem, ctx, out)
                except _LoopSignal as sig:
                    if sig.word == "break":
                        break
            if scoped:
                del ctx.vars[mark:]
            if empty and orelse is not None:
                orelse(dot, ctx, out)

        return run

    # pipelines and commands

    def pipe(self, pipe: _Pipe) -> Eval:
        if pipe.decl:
            names, assign = pipe.decl, pipe.assign
            inner = self.pipe(pipe._replace(decl=()))

            def bound(dot: Any, ctx: _Ctx) -> Any:
                v = inner(dot, ctx)
                ctx.bind(names[:1], (v,), assign)
                return v

            return bound
        stages = [self.command(cmd, final=k > 0) for k, cmd in enumerate(pipe.cmds)]
        if len(stages) == 1:
            first = stages[0]
            return lambda dot, ctx: first(dot, ctx, _MISSING)

        def run(dot: Any, ctx: _Ctx) -> Any:
            v = _MISSING
            for stage in stages:
                v = stage(dot, ctx, v)
            return v

        return run

    def command(self, cmd: _Cmd, final: bool) -> Callable[[Any, _Ctx, Any], Any]:
        head = cmd.args[0]
        if not isinstance(head, _Ident):
            if len(cmd.args) > 1 or final:
                return self.not_a_function(head)
            operand = self.operand(head)
            return lambda dot, ctx, _final: operand(dot, ctx)
        return self.call(head.name, cmd.args[1:], cmd.pos, cmd.raw)

    def not_a_function(self, head: Any) -> Callable[[Any, _Ctx, Any], Any]:
        """Arguments given to a value: Go's parser accepts this, its executor fails on each entry.

        A field of a map says it "is not a method"; any other value "can't give argument to
        non-function". The receiver chain is still evaluated first, as Go does, so a field of a
        string fails with the field error instead.
        """
        wrap, pos, raw = self.wrap, head.pos, head.raw
        if not isinstance(head, _Field) or not head.chain:

            def fail(dot: Any, ctx: _Ctx, final: Any) -> Any:
                raise wrap(pos, raw, _Exec(f"can't give argument to non-function {raw}"))

            return fail
        receiver = self.operand(head._replace(chain=head.chain[:-1]))
        key = head.chain[-1]

        def not_method(dot: Any, ctx: _Ctx, final: Any) -> Any:
            v = receiver(dot, ctx)
            if v is ctx.root or isinstance(v, dict):
                raise wrap(pos, raw, _Exec(f"{key} is not a method but has arguments"))
            try:
                _field(v, key, ctx)
            except _Exec as exc:
                raise wrap(pos, raw, exc) from None
            raise wrap(pos, raw, _Exec(f"{key} is not a method but has arguments"))

        return not_method

    def call(self, name: str, arg_nodes: list[Any], pos: int, raw: str) -> Callable[[Any, _Ctx, Any], Any]:
        """A function call; the piped value, when there is one, is its last argument."""
        wrap = self.wrap
        if name == _LINE_FN or name == _TS_FN:
            is_line = name == _LINE_FN

            def special(dot: Any, ctx: _Ctx, final: Any) -> Any:
                if arg_nodes or final is not _MISSING:
                    n = len(arg_nodes) + (final is not _MISSING)
                    raise wrap(pos, raw, _Exec(f"wrong number of args for {name}: want 0 got {n}"))
                return ctx.line if is_line else GoTime.from_unix_nano(ctx.ts_ns)

            return special
        if name in _LAZY:
            evals = [self.operand(a) for a in arg_nodes]
            is_and = name == "and"

            def lazy(dot: Any, ctx: _Ctx, final: Any) -> Any:
                """and/or stop at the first argument that decides, returning that argument."""
                if not evals and final is _MISSING:
                    raise wrap(pos, raw, _Exec(f"wrong number of args for {name}: want at least 1 got 0"))
                v = None
                for e in evals:
                    v = e(dot, ctx)
                    if _truth(v) != is_and:
                        return v
                return final if final is not _MISSING else v

            return lazy
        fn = self.functions[name]
        nparams = len(fn.params)
        kinds = [fn.params[k] if k < nparams else (fn.variadic or _A) for k in range(len(arg_nodes))]
        evals = [self.typed_arg(node, kind) for node, kind in zip(arg_nodes, kinds)]
        impl = fn.impl
        variadic = fn.variadic
        sized = fn.sized

        def invoke(dot: Any, ctx: _Ctx, final: Any) -> Any:
            try:
                args = [e(dot, ctx) for e in evals]
                if final is not _MISSING:
                    k = len(args)
                    kind = fn.params[k] if k < nparams else variadic
                    if kind is None:
                        raise _Exec(f"wrong number of args for {name}: want {nparams} got {k + 1}")
                    args.append(_coerce(final, kind))
                n = len(args)
                if n < nparams or (variadic is None and n > nparams):
                    want = f"at least {nparams}" if variadic is not None else str(nparams)
                    raise _Exec(f"wrong number of args for {name}: want {want} got {n}")
            except _Exec as exc:
                raise wrap(pos, raw, exc) from None
            try:
                v = impl(ctx.limit, *args) if sized else impl(*args)
                # Every other function's result is a small multiple of its (bounded) inputs.
                if type(v) is str and len(v) > ctx.limit:
                    raise _FnError(_too_long(_utf8_len(v), ctx.limit))
                return v
            except _FnError as exc:
                raise wrap(pos, raw, _Exec(f"error calling {name}: {exc}")) from None
            except (ValueError, OverflowError, ZeroDivisionError, decimal.InvalidOperation) as exc:
                raise wrap(pos, raw, _Exec(f"error calling {name}: {exc}")) from None

        return invoke

    def typed_arg(self, node: Any, kind: str) -> Eval:
        if isinstance(node, _Lit):
            try:
                value = _literal_as(node, kind)
            except _Exec as exc:
                err = exc

                def fail(dot: Any, ctx: _Ctx) -> Any:
                    raise err

                return fail
            return lambda dot, ctx: value
        operand = self.operand(node)
        if kind == _A:
            return operand
        return lambda dot, ctx: _coerce(operand(dot, ctx), kind)

    def operand(self, node: Any) -> Eval:
        if isinstance(node, _Lit):
            try:
                value = _literal_as(node, _A)
            except _Exec as exc:
                err = self.wrap(node.pos, node.raw, exc)

                def fail(dot: Any, ctx: _Ctx) -> Any:
                    raise err

                return fail
            return lambda dot, ctx: value
        if isinstance(node, _Ident):  # a function in argument position is called without args
            call = self.call(node.name, [], node.pos, node.raw)
            return lambda dot, ctx: call(dot, ctx, _MISSING)
        assert isinstance(node, _Field)
        if node.base == "dot":
            base: Eval = _dot
        elif node.base == "root":
            base = _root
        elif type(node.base) is tuple:  # ("var", name); a _Pipe is a NamedTuple
            name = node.base[1]
            base = lambda dot, ctx: ctx.lookup(name)  # noqa: E731
        else:
            base = self.pipe(node.base)
        chain = node.chain
        if not chain:
            return base
        wrap, raw, pos = self.wrap, node.raw, node.pos
        if node.base == "dot" and len(chain) == 1:
            key = chain[0]

            def field1(dot: Any, ctx: _Ctx) -> Any:
                if dot is ctx.root:
                    return dot.get(key, "")  # map[string]string with missingkey=zero
                try:
                    return _field(dot, key, ctx)
                except _Exec as exc:
                    raise wrap(pos, raw, exc) from None

            return field1

        def fields(dot: Any, ctx: _Ctx) -> Any:
            v = base(dot, ctx)
            try:
                for key in chain:
                    v = _field(v, key, ctx)
            except _Exec as exc:
                raise wrap(pos, raw, exc) from None
            return v

        return fields


_MISSING: Any = object()


def _loop_signal(word: str) -> Emit:
    def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
        raise _LoopSignal(word)

    return run


def _dot(dot: Any, ctx: _Ctx) -> Any:
    return dot


def _root(dot: Any, ctx: _Ctx) -> Any:
    return ctx.root


def _field(v: Any, key: str, ctx: _Ctx) -> Any:
    if v is ctx.root:
        return v.get(key, "")
    if isinstance(v, dict):
        return v.get(key)  # map[string]interface{}: a missing key is nil ("<no value>")
    if v is None:
        raise _Exec(f"nil pointer evaluating interface {{}}.{key}")
    raise _Exec(f"can't evaluate field {key} in type {_type_name(v)}")


def _emit_text(text: str) -> Emit:
    size = len(text)

    def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
        ctx.size += size  # text inside a branch can repeat only as often as the template says
        out.append(text)

    return run


class Template:
    """A compiled template. `render(labels, line, ts_ns)` gives the formatted text, at most
    `max_bytes` of UTF-8."""

    __slots__ = ("text", "name", "max_bytes", "_run", "_simple_key")

    def __init__(self, text: str, name: str, run: Emit, simple_key: str | None, max_bytes: int) -> None:
        self.text, self.name, self.max_bytes = text, name, max_bytes
        self._run = run
        self._simple_key = simple_key

    def render(self, labels: Mapping[str, str], line: str, ts_ns: int) -> str:
        """Render for one entry. Raises TemplateExecError where Go's Execute fails, and where
        the output would be longer than `max_bytes`."""
        key = self._simple_key
        if key is not None:  # Loki's shortcut for `{{.label}}`: a label is never too long
            return labels.get(key, "")
        out: list[str] = []
        limit = self.max_bytes
        try:
            self._run(labels, _Ctx(labels, line, ts_ns, limit), out)
        except RecursionError:
            raise TemplateExecError(
                f'template: {self.name}: executing "{self.name}": nesting too deep to execute'
            ) from None
        text = "".join(out)
        if len(text) > limit or (not text.isascii() and _utf8_len(text) > limit):
            raise TemplateExecError(
                f'template: {self.name}: executing "{self.name}": {_too_long(_utf8_len(text), limit)}'
            )
        return text

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def compile_template(
    text: str, functions: Mapping[str, _Fn], name: str = "line", max_bytes: int = DEFAULT_MAX_BYTES
) -> Template:
    """Parse and compile `text`; TemplateError (a ValueError) with Go's message if it is bad.

    `name` is the template name in messages: Loki uses "line" for line_format and "label" for
    label_format. `max_bytes` bounds what one render may produce (the max line size).
    """
    parser = _Parser(_Lexer(text, name), {**BUILTINS, **functions})
    try:
        nodes = parser.parse()
    except RecursionError:
        # Thousands of nested actions or parentheses: a refusal, never Python's stack error.
        raise TemplateError(f"template: {name}: nesting too deep to parse") from None
    simple = None
    if len(nodes) == 1 and isinstance(nodes[0], _Action):
        cmds = nodes[0].pipe.cmds
        if len(cmds) == 1 and len(cmds[0].args) == 1:
            arg = cmds[0].args[0]
            if isinstance(arg, _Field) and arg.base == "dot" and len(arg.chain) == 1:
                simple = arg.chain[0]
    try:
        run = (
            _Compiler(name, text, parser.functions, parser.declares).list(nodes)
            if nodes
            else (lambda dot, ctx, out: None)
        )
    except RecursionError:
        raise TemplateError(f"template: {name}: nesting too deep to parse") from None
    if parser.declares:
        inner = run

        def run(dot: Any, ctx: _Ctx, out: list[str]) -> None:
            ctx.vars = []
            inner(dot, ctx, out)

    return Template(text, name, run, simple, max_bytes)
