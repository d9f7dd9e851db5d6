"""The instant-function table against the parser's signature table: nothing missing, nothing
extra, and every implementation answers the value type its signature promises."""

from __future__ import annotations

import numpy as np
import pytest

from heron.promql.functions.instant import INSTANT_FUNCTIONS
from heron.promql.syntax.ast import Call, NumberLiteral, StringLiteral, ValueType, VectorSelector
from heron.promql.syntax.functions import SIGNATURES
from heron.promql.value import EvalContext, Scalar, String, Vector

LEFT_OUT = {"info", "start_timestamp"}  # experimental metadata joins; stored start timestamps


def instant_signatures() -> list[str]:
    return sorted(
        name
        for name, sig in SIGNATURES.items()
        if ValueType.MATRIX not in sig.arg_types
        and not name.startswith("histogram_")
        and not sig.native_histogram_only
        and name not in LEFT_OUT
    )


def test_every_instant_signature_has_an_implementation() -> None:
    assert sorted(INSTANT_FUNCTIONS) == instant_signatures()


@pytest.mark.parametrize("name", instant_signatures())
def test_implementation_returns_the_signature_type(name: str) -> None:
    sig = SIGNATURES[name]
    steps = 3
    ctx = EvalContext(np.array([0, 60_000, 120_000]))
    vec = Vector([(("__name__", "m"), ("src", "a"))], np.array([[1.0, 2.0, 3.0]]), np.ones((1, steps), bool))
    args: list[object] = []
    nodes: list[object] = []
    strings = iter(["dst", "$1", "src", "(.*)"] if name == "label_replace" else ["dst", "-", "src"])
    for t in sig.arg_types:
        if t is ValueType.VECTOR:
            args.append(vec)
            nodes.append(VectorSelector("m", ()))
        elif t is ValueType.SCALAR:
            args.append(Scalar(np.full(steps, 0.5)))
            nodes.append(NumberLiteral(0.5))
        else:
            text = next(strings, "src")
            args.append(String(text))
            nodes.append(StringLiteral(text))
    out = INSTANT_FUNCTIONS[name](Call(name, tuple(nodes), sig.return_type), args, ctx)  # type: ignore[arg-type]
    want = Scalar if sig.return_type is ValueType.SCALAR else Vector
    assert isinstance(out, want)
    if isinstance(out, Vector):
        assert out.values.shape == (len(out), steps) and out.present.shape == out.values.shape
    else:
        assert out.values.shape == (steps,)
