"""PromQL syntax: lexer, parser, AST and printer, apart from any evaluation code.

Imports only the standard library and `heron.model` (whose `Matcher` is reused for label
matchers), as `heron.logql.syntax` does.
"""

from heron.promql.syntax.ast import *  # noqa: F401,F403
from heron.promql.syntax.ast import __all__ as _ast_all
from heron.promql.syntax.errors import ParseError, PosRange, position_of
from heron.promql.syntax.parser import parse_expr, parse_selector
from heron.promql.syntax.prettier import prettify
from heron.promql.syntax.printer import format_expr
from heron.promql.syntax.tojson import to_json

__all__ = [
    *_ast_all,
    "ParseError",
    "PosRange",
    "position_of",
    "parse_expr",
    "parse_selector",
    "format_expr",
    "prettify",
    "to_json",
]
