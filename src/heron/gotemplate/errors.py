"""Go-style template errors: a parse error (the query's 400) and an execution error (one entry's
TemplateFormatErr)."""

from __future__ import annotations


class TemplateError(ValueError):
    """The template text does not parse (raised by compile_template, Go-style message)."""


class TemplateExecError(ValueError):
    """Rendering failed (bad argument type, function error); Loki's TemplateFormatErr."""


class _FnError(Exception):
    """Raised by a template function; becomes `error calling NAME: message`."""
