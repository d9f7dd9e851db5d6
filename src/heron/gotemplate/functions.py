"""The function table's entry type: a Python callable with Go parameter kinds."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple


class _Fn(NamedTuple):
    """A template function: its implementation and Go parameter kinds.

    Kinds: "string", "int", "float64", "bool", "any" (interface{}), "time" (time.Time).
    `variadic` is the kind of the trailing ...args, if any.
    """

    impl: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str | None = None
    sized: bool = False  # impl takes the output limit first, to refuse an oversized result early


_S, _I, _F, _A, _T = "string", "int", "float64", "any", "time"


Fn = _Fn  # the public name: another function table (Prometheus') builds its entries with it
