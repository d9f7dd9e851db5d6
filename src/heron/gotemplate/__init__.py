"""Go's text/template, for Heron's templates: LogQL's line_format/label_format today, and any
other function set (Prometheus' alert templates) later.

The engine is Go's syntax and semantics with Go's error messages; what a template may call is a
table given to `compile_template` (name -> `Fn`), merged over Go's own builtins. Modules, one
job each: `lexer` and `parse` (the tree), `exec` (compiled closures and rendering), `builtins`
(Go's and, or, not, len, index, slice, print*, eq..ge, html, js, urlquery), `gofmt` (fmt verbs),
`gotime` (time layouts), `convert` (numeric conversions as Sprig's cast does them), `values`
(Go type names, truth, %v), `size` (the output bound) and `errors`.
"""

from __future__ import annotations

from heron.gotemplate.builtins import BUILTINS
from heron.gotemplate.errors import TemplateError, TemplateExecError
from heron.gotemplate.exec import Template, compile_template
from heron.gotemplate.functions import Fn
from heron.gotemplate.gofmt import go_sprintf
from heron.gotemplate.gotime import GoTime, format_time, parse_time
from heron.gotemplate.size import DEFAULT_MAX_BYTES
from heron.gotemplate.values import go_format_float

__all__ = [
    "BUILTINS",
    "DEFAULT_MAX_BYTES",
    "Fn",
    "GoTime",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "compile_template",
    "format_time",
    "go_format_float",
    "go_sprintf",
    "parse_time",
]
