"""What the aggregation operators and the classic-histogram functions share: grouping rows into
output groups once, a padded (groups x rank x steps) layout for per-group reductions, and Go's
float spellings that Prometheus' messages and labels use.

Prometheus aggregates sample by sample, in input order, at each step. Heron computes each row's
group once and reduces whole (rows x steps) matrices. Sequential algorithms (Kahan sums, Welford
variance) must add in Prometheus' order to give the same bits, so rows are laid out per group in
input order: `GroupLayout` puts groups of similar size into one padded 3-D block (width a power
of two, so padding at most doubles memory), and a reduction runs along its rank axis, vectorised
over all groups and steps of the block at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from heron.model import Labels
from heron.promql.syntax.ast import Expr, ParenExpr
from heron.promql.syntax.errors import PosRange

__all__ = [
    "GroupLayout",
    "LayoutBlock",
    "group_rows",
    "go_format_g",
    "go_format_f",
    "go_quote",
    "expr_pos",
    "last_step_flags",
    "is_valid_label_name",
]

METRIC_NAME = "__name__"


def group_rows(
    labels: list[Labels], grouping: tuple[str, ...], without: bool
) -> tuple[np.ndarray, list[Labels]]:
    """Each row's group index (groups numbered by first appearance) and each group's labels.

    `by (l...)` keeps exactly the listed labels that a series has; `without (l...)` drops the
    listed labels and `__name__` (Prometheus' `generateGroupingLabels`). The group's labels are
    its identity: Prometheus hashes the same label subset.
    """
    index: dict[Labels, int] = {}
    gid = np.empty(len(labels), dtype=np.int64)
    if without:
        drop = set(grouping) | {METRIC_NAME}
        for i, ls in enumerate(labels):
            key = tuple(p for p in ls if p[0] not in drop)
            gid[i] = index.setdefault(key, len(index))
    else:
        keep = set(grouping)
        for i, ls in enumerate(labels):
            key = tuple(p for p in ls if p[0] in keep) if keep else ()
            gid[i] = index.setdefault(key, len(index))
    return gid, list(index)


@dataclass
class LayoutBlock:
    """Groups of similar size: `groups[b]` is an output group, `rows[b, j]` its j-th input row
    in input order, or -1 past the group's end."""

    groups: np.ndarray  # int64 (B,)
    rows: np.ndarray  # int64 (B, W)

    @property
    def valid(self) -> np.ndarray:
        return self.rows >= 0

    def gather(self, matrix: np.ndarray, fill: float | bool) -> np.ndarray:
        """`matrix` (rows x steps) as (B, W, steps), padding cells set to `fill`."""
        out = matrix[np.maximum(self.rows, 0)]
        out[self.rows < 0] = fill
        return out


class GroupLayout:
    """Rows grouped by output group, in blocks of groups whose sizes share a power of two."""

    def __init__(self, gid: np.ndarray, ngroups: int) -> None:
        self.gid = gid
        self.ngroups = ngroups
        sizes = np.bincount(gid, minlength=ngroups).astype(np.int64)
        self.sizes = sizes
        order = np.argsort(gid, kind="stable")
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        size_class = np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64)
        self.blocks: list[LayoutBlock] = []
        for cls in np.unique(size_class[sizes > 0]).tolist():
            groups = np.nonzero((size_class == cls) & (sizes > 0))[0]
            width = int(sizes[groups].max())
            rank = np.arange(width, dtype=np.int64)
            valid = rank[None, :] < sizes[groups][:, None]
            pos = np.minimum(starts[groups][:, None] + rank[None, :], len(order) - 1)
            rows = np.where(valid, order[pos], -1)
            self.blocks.append(LayoutBlock(groups, rows))


def last_step_flags(
    gid: np.ndarray, ngroups: int, present: np.ndarray, flags: np.ndarray | None
) -> np.ndarray | None:
    """Per group: is any row flagged among those present at the group's last present step?

    Prometheus sets an output series' `DropName` at every step from the samples it aggregated
    there, so the last step that produced a sample decides.
    """
    if flags is None or not bool(flags.any()) or len(gid) == 0:
        return None
    steps = present.shape[1]
    group_present = np.zeros((ngroups, steps), dtype=bool)
    np.logical_or.at(group_present, gid, present)
    last = steps - 1 - np.argmax(group_present[:, ::-1], axis=1)
    row_flag = flags & present[np.arange(len(gid)), last[gid]]
    out = np.zeros(ngroups, dtype=bool)
    np.logical_or.at(out, gid, row_flag)
    return out


def expr_pos(expr: Expr | None) -> PosRange | None:
    """An argument's position with superfluous parentheses removed, as Prometheus' preprocessing
    unwraps aggregation and function parameters before annotating them."""
    while isinstance(expr, ParenExpr):
        expr = expr.expr
    return None if expr is None else expr.pos


def _shortest(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of |x| and the decimal point position (value = 0.d * 10^dp)."""
    text = np.format_float_scientific(abs(x), unique=True, trim="-")
    mantissa, exp = text.split("e")
    digits = mantissa.replace(".", "")
    return digits, int(exp) + 1


def go_format_g(x: float) -> str:
    """Go's `%g` / `strconv.FormatFloat(x, 'g', -1, 64)`: `1.1`, `1e+06`, `1e-05`, `-0`, `NaN`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    digits, dp = _shortest(x)
    exp = dp - 1
    if exp < -4 or exp >= 6:  # strconv's rule for the shortest 'g': precision 6 decides
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    return sign + _positional(digits, dp)


def _positional(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def go_format_f(x: float) -> str:
    """Go's `strconv.FormatFloat(x, 'f', -1, 64)`: shortest digits, never an exponent."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return np.format_float_positional(x, unique=True, trim="-")


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """`strconv.Quote`; surrogate escapes (undecodable bytes kept by the parser) print as `\\xHH`."""
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:
            out.append(f"\\x{cp - 0xDC00:02x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\\ufffd")
        elif ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif cp < 0x80:
            out.append(f"\\x{cp:02x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def is_valid_label_name(name: str) -> bool:
    """Prometheus 3's UTF-8 label name rule: any non-empty valid UTF-8 text."""
    if not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        return False
    return True
