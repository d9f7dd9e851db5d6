"""PromQL's label functions: `label_replace` and `label_join`.

They change series, not samples, so the work is one pass over the rows in Python (string
work has no numpy form) and never touches a step. As in Prometheus 3 (`evalLabelReplace`,
`evalLabelJoin`):

* the regex is fully anchored and may match newlines (`^(?s:regex)$`), compiled as RE2 (Go's
  engine); `$1`, `${1}`, `$name`, `${name}` expand as Go's `Regexp.ExpandString`;
* a label set to the empty string is removed;
* a to-be-dropped `__name__` is still readable (delayed name removal), and writing
  `__name__` cancels its removal;
* rows that end up with the same label set are merged when their steps do not overlap, and
  are an error ("vector cannot contain metrics with the same labelset") when they do.

Bad arguments are errors before any row is read, in Prometheus' words.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from heron.model import Labels
from heron.promconfig.relabel import Program, expand, program
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, ExecutionError, String, Value, Vector

__all__ = ["LABEL_FUNCTIONS", "merge_same_labelsets", "valid_label_name", "DUPLICATE_LABELSET"]

METRIC_NAME = "__name__"
DUPLICATE_LABELSET = "vector cannot contain metrics with the same labelset"


def valid_label_name(name: str) -> bool:
    """Prometheus 3's UTF-8 label names: any non-empty valid UTF-8 (a Python string holding a
    lone surrogate stands for bytes that are not UTF-8)."""
    if not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(arg: Value) -> str:
    assert isinstance(arg, String)
    return arg.value


def _with_label(labels: Labels, name: str, value: str) -> Labels:
    """`labels` with `name` set to `value`, or removed when `value` is empty (Go's
    `labels.Builder.Set`)."""
    kept = [pair for pair in labels if pair[0] != name]
    if value != "":
        kept.append((name, value))
        kept.sort()
    return tuple(kept)


def _get(labels: Labels, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""


def merge_same_labelsets(vec: Vector) -> Vector:
    """Prometheus' `mergeSeriesWithSameLabelset`: rows with equal labels become one row holding
    each one's steps; a step present in two of them is an ExecutionError. The merged row keeps
    the first row's place and its `drop_name`."""
    first: dict[Labels, int] = {}
    groups: dict[int, list[int]] = {}
    for i, labels in enumerate(vec.labels):
        at = first.setdefault(labels, i)
        if at != i:
            groups.setdefault(at, [at]).append(i)
    if not groups:
        return vec
    keep = np.ones(len(vec), dtype=bool)
    values = vec.values.copy()
    present = vec.present.copy()
    for at, rows in groups.items():
        counts = vec.present[rows].sum(axis=0)
        if bool((counts > 1).any()):
            raise ExecutionError(DUPLICATE_LABELSET)
        for row in rows[1:]:
            here = vec.present[row]
            values[at, here] = vec.values[row, here]
            present[at] |= here
            keep[row] = False
    labels = [ls for ls, k in zip(vec.labels, keep.tolist()) if k]
    drop_name = None if vec.drop_name is None else vec.drop_name[keep]
    return Vector(labels, values[keep], present[keep], drop_name)


def _relabelled(vec: Vector, labels: list[Labels], dst: str, changed: list[bool]) -> Vector:
    drop = np.zeros(len(vec), dtype=bool) if vec.drop_name is None else vec.drop_name.copy()
    if dst == METRIC_NAME and changed:
        drop[np.asarray(changed, dtype=bool)] = False
    out = Vector(labels, vec.values, vec.present, drop if bool(drop.any()) else None)
    return merge_same_labelsets(out)


def _compile(regex: str) -> Program:
    try:
        return program("(?s:" + regex + ")")
    except ValueError:
        raise ExecutionError(f"invalid regular expression in label_replace(): {regex}") from None


def _label_replace(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`label_replace(v, dst, replacement, src, regex)`: where `regex` matches the whole of
    `src`'s value (missing = ""), set `dst` to the expanded replacement."""
    vec = args[0]
    assert isinstance(vec, Vector)
    dst, repl, src, regex = (_string(a) for a in args[1:5])
    prog = _compile(regex)
    if not valid_label_name(dst):
        raise ExecutionError(f"invalid destination label name in label_replace(): {dst}")
    results: dict[str, str | None] = {}
    labels: list[Labels] = []
    changed: list[bool] = []
    for row in vec.labels:
        value = _get(row, src)
        if value in results:
            result = results[value]
        else:
            groups = prog.groups(value)
            result = None if groups is None else expand(repl, prog, groups)
            results[value] = result
        if result is None:
            labels.append(row)
            changed.append(False)
        else:
            labels.append(_with_label(row, dst, result))
            changed.append(True)
    return _relabelled(vec, labels, dst, changed)


def _label_join(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`label_join(v, dst, separator, src...)`: `dst` becomes the `src` values (missing = "")
    joined by the separator, on every series."""
    vec = args[0]
    assert isinstance(vec, Vector)
    dst, sep = _string(args[1]), _string(args[2])
    sources = [_string(a) for a in args[3:]]
    for src in sources:
        if not valid_label_name(src):
            raise ExecutionError(f"invalid source label name in label_join(): {src}")
    if not valid_label_name(dst):
        raise ExecutionError(f"invalid destination label name in label_join(): {dst}")
    labels = [_with_label(row, dst, sep.join(_get(row, s) for s in sources)) for row in vec.labels]
    return _relabelled(vec, labels, dst, [True] * len(labels))


LABEL_FUNCTIONS: dict[str, Callable[[Call, list[Value], EvalContext], Value]] = {
    "label_replace": _label_replace,
    "label_join": _label_join,
}
