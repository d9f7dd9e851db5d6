"""A log pipeline built from the AST's stages, run over one chunk's columns at a time.

Line filters that come before any parser or formatter run over the whole chunk buffer in C
(`linefilter.line_mask`); only the entries that survive them pay for per-line Python work
(parsing, label filters, templates). A pipeline of nothing but such filters never touches a
line in Python at all, and keeps the stream's labels without building a dict per entry.

The per-line loop is where a query's time and memory go, so it reports to the query's budget
every `budget.LINE_BATCH` lines: the deadline is checked, and the lines and label maps made so
far are charged (`PipelineOutput.charged` says how much, for the engine to release when it drops
them). Templates render at most `max_line_bytes`, the server's max line size.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from heron.logql import parsers
from heron.logql.budget import ENTRY_BYTES, LINE_BATCH, QueryBudget, labels_bytes
from heron.logql.ipfilter import IPMatcher, compile_ip, ip_label_filter
from heron.logql.linefilter import compile_regex, line_mask
from heron.logql.result import QueryError
from heron.logql.syntax import (
    BytesLabelFilter,
    Decolorize,
    Drop,
    DurationLabelFilter,
    IPLabelFilter,
    JSONParser,
    Keep,
    LabelFilter,
    LabelFilterAnd,
    LabelFilterOp,
    LabelFilterOr,
    LabelFormat,
    LineFilter,
    LineFilterOr,
    LineFormat,
    LineMatchType,
    LogfmtParser,
    NumericLabelFilter,
    PatternParser,
    RegexpParser,
    StageExpr,
    StringLabelFilter,
    UnpackParser,
    Unwrap,
    UnwrapConversion,
    parse_bytes,
    parse_duration_ns,
)
from heron.logql.syntax.units import GoRangeError, parse_go_float
from heron.logql.template import DEFAULT_MAX_BYTES, TemplateExecError, compile_template
from heron.model import Matcher
from heron.storage import LogColumns

__all__ = [
    "Pipeline",
    "PipelineOutput",
    "ERROR_LABEL",
    "ERROR_DETAILS_LABEL",
    "line_bytes",
    "metadata_labels",
]

ERROR_LABEL = "__error__"
ERROR_DETAILS_LABEL = "__error_details__"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[a-zA-Z]")

Labels = dict[str, str]
_Step = Callable[[int, str, Labels], "tuple[str, Labels] | None"]


@dataclass
class PipelineOutput:
    """Entries of one chunk that passed: indexes into the input, and what the stages made."""

    index: np.ndarray  # int64 positions in the input columns
    labels: list[Labels] | None  # per kept entry; None = the stream labels, unchanged
    lines: list[str] | None  # per kept entry when the pipeline rewrote lines; None = unchanged
    values: np.ndarray | None  # float64 per kept entry when the pipeline ends in unwrap
    charged: int = 0  # bytes charged to the query's budget for these lines and labels


def _encode(line: str) -> bytes:
    """A line's bytes for the parsers. A template can leave lone surrogates in a line (`slice`
    cuts bytes, kept as U+DC80..U+DCFF): those give back their byte, anything else U+FFFD."""
    try:
        return line.encode()
    except UnicodeEncodeError:
        try:
            return line.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return line.encode("utf-8", "replace")


def line_bytes(lines: list[str]) -> np.ndarray:
    """UTF-8 sizes of lines a pipeline rewrote (for bytes_over_time), as float64."""
    return np.array([len(_encode(line)) for line in lines], dtype=np.float64)


def _pattern_to_regex(pattern: str) -> str:
    """`|> "<_> error <_>"`: Loki's pattern line filter as an anchored regex."""
    parts = re.split(r"<[a-zA-Z_][a-zA-Z0-9_]*>", pattern)
    return "^" + "(?s:.*?)".join(re.escape(p) for p in parts) + "$"


def _filter_values(stage: LineFilter | LineFilterOr) -> tuple[str, list[str | IPMatcher]]:
    filters = stage.filters if isinstance(stage, LineFilterOr) else (stage,)
    op = filters[0].op
    if any(f.ip for f in filters):
        if op not in (LineMatchType.EQ, LineMatchType.NEQ):
            raise QueryError("ip: invalid operation")  # Loki: ip() only with |= and !=
        return op.value, [compile_ip(f.value) if f.ip else f.value for f in filters]
    values: list[str] = [f.value for f in filters]
    if op in (LineMatchType.PATTERN, LineMatchType.NPATTERN):
        return ("|~" if op is LineMatchType.PATTERN else "!~"), [_pattern_to_regex(v) for v in values]
    return op.value, values


def _compare(op: LabelFilterOp, a: float, b: float) -> bool:
    if op is LabelFilterOp.EQ:
        return a == b
    if op is LabelFilterOp.NEQ:
        return a != b
    if op is LabelFilterOp.GT:
        return a > b
    if op is LabelFilterOp.GTE:
        return a >= b
    if op is LabelFilterOp.LT:
        return a < b
    return a <= b


def _label_filter(f: LabelFilter) -> Callable[[Labels], bool]:
    """A predicate that may also set __error__ on the labels (Loki keeps such lines)."""
    if isinstance(f, LabelFilterAnd):
        left, right = _label_filter(f.left), _label_filter(f.right)
        return lambda lbs: left(lbs) and right(lbs)
    if isinstance(f, LabelFilterOr):
        left, right = _label_filter(f.left), _label_filter(f.right)
        return lambda lbs: left(lbs) or right(lbs)
    if isinstance(f, StringLabelFilter):
        m: Matcher = f.matcher
        return lambda lbs: m.matches(lbs.get(m.name, ""))
    if isinstance(f, (NumericLabelFilter, DurationLabelFilter, BytesLabelFilter)):
        name, op = f.name, f.op
        if isinstance(f, NumericLabelFilter):
            conv: Callable[[str], float] = parse_go_float
            target = float(f.value)
        elif isinstance(f, DurationLabelFilter):
            conv, target = (lambda v: float(parse_duration_ns(v))), float(f.value_ns)
        else:
            conv, target = (lambda v: float(parse_bytes(v))), float(f.value)

        def numeric(lbs: Labels) -> bool:
            """As Loki's label_filter.go: a missing label drops the entry whatever the
            operator; a value that does not convert keeps it, marked LabelFilterErr unless
            an earlier stage already marked it (the earlier error is the more useful one)."""
            v = lbs.get(name)
            if v is None:
                return False
            try:
                x = conv(v)
            except ValueError as exc:
                if ERROR_LABEL not in lbs:
                    lbs[ERROR_LABEL] = "LabelFilterErr"
                    lbs[ERROR_DETAILS_LABEL] = str(exc)
                return True
            return _compare(op, x, target)

        return numeric
    if isinstance(f, IPLabelFilter):
        return ip_label_filter(f.name, f.op is LabelFilterOp.NEQ, compile_ip(f.pattern), ERROR_LABEL)
    raise QueryError(f"unsupported label filter {f}")


def _step(stage: StageExpr, max_line_bytes: int, base: list[Labels]) -> _Step:
    """Each step takes (ts, line, labels) and returns the new (line, labels), or None to drop.

    `base[0]` is the current entry's stream labels and structured metadata: a parsed name
    that is one of them gets `_extracted` appended (Loki's BaseHas or StructuredMetadata check).

    What a step could only find out per line but depends on the query alone (a bad parser
    parameter) is checked here, so it is one 400 instead of an error on every line."""
    if isinstance(stage, (LineFilter, LineFilterOr)):
        op, values = _filter_values(stage)
        if op in ("|~", "!~"):
            regexes = [compile_regex(v) for v in values]
            hit: Callable[[str], bool] = lambda line: any(r.search(_encode(line)) for r in regexes)  # noqa: E731
        else:
            needles = values
            hit = lambda line: any(  # noqa: E731
                (n in line) if isinstance(n, str) else n.search(_encode(line)) for n in needles
            )
        negate = op in ("!=", "!~")
        return lambda ts, line, lbs: (line, lbs) if hit(line) != negate else None
    if isinstance(stage, JSONParser):
        params = [(p.identifier, p.expression) for p in stage.params] or None
        parsers.check_json_params(params or [])
        return _parser_step(lambda line: parsers.parse_json(_encode(line), params), "JSONParserErr", base)
    if isinstance(stage, LogfmtParser):
        params = [(p.identifier, p.expression) for p in stage.params] or None
        strict, keep_empty = stage.strict, stage.keep_empty
        parsers.check_logfmt_params(params or [])
        return _parser_step(
            lambda line: parsers.parse_logfmt(_encode(line), params, strict, keep_empty),
            "LogfmtParserErr",
            base,
        )
    if isinstance(stage, RegexpParser):
        rp = parsers.compile_regexp_parser(stage.regex)
        return _parser_step(lambda line: (rp.parse(_encode(line)), None), "RegexpParserErr", base)
    if isinstance(stage, PatternParser):
        pp = parsers.compile_pattern(stage.pattern)
        return _parser_step(lambda line: (pp.parse(_encode(line)), None), "PatternParserErr", base)
    if isinstance(stage, UnpackParser):

        def unpack(ts: int, line: str, lbs: Labels) -> tuple[str, Labels]:
            extracted, new_line, err = parsers.parse_unpack(_encode(line))
            lbs = parsers.merge_extracted(base[0], extracted, lbs)
            if err:
                lbs[ERROR_LABEL] = err  # Loki's SetErr: the latest error wins
            # the packed `_entry` comes back as bytes; lines are text from here on
            return (new_line.decode("utf-8", "replace") if new_line is not None else line), lbs

        return unpack
    if isinstance(stage, LabelFilter):
        pred = _label_filter(stage)
        return lambda ts, line, lbs: (line, lbs) if pred(lbs) else None
    if isinstance(stage, LineFormat):
        tmpl = compile_template(stage.template, "line", max_line_bytes)

        def line_format(ts: int, line: str, lbs: Labels) -> tuple[str, Labels]:
            try:
                return tmpl.render(lbs, line, ts), lbs
            except TemplateExecError as exc:
                lbs[ERROR_LABEL] = "TemplateFormatErr"  # the latest error wins, as in Loki
                lbs[ERROR_DETAILS_LABEL] = str(exc)
                return line, lbs

        return line_format
    if isinstance(stage, LabelFormat):
        ops = [
            (
                f.name,
                f.value,
                f.rename,
                None if f.rename else compile_template(f.value, "label", max_line_bytes),
            )
            for f in stage.formats
        ]

        def label_format(ts: int, line: str, lbs: Labels) -> tuple[str, Labels]:
            before = dict(lbs)
            for name, value, rename, tmpl in ops:
                if rename:
                    if value in lbs:
                        lbs[name] = lbs.pop(value)
                else:
                    assert tmpl is not None
                    try:
                        lbs[name] = tmpl.render(before, line, ts)
                    except TemplateExecError as exc:
                        lbs[ERROR_LABEL] = "TemplateFormatErr"
                        lbs[ERROR_DETAILS_LABEL] = str(exc)
            return line, {k: v for k, v in lbs.items() if v != ""}

        return label_format
    if isinstance(stage, Drop):
        return lambda ts, line, lbs: (line, _drop(lbs, stage.labels))
    if isinstance(stage, Keep):
        return lambda ts, line, lbs: (line, _keep(lbs, stage.labels))
    if isinstance(stage, Decolorize):
        return lambda ts, line, lbs: (_ANSI_RE.sub("", line), lbs)
    raise QueryError(f"unsupported pipeline stage {stage}")


def _parser_step(
    parse: Callable[[str], tuple[Labels, str | None]], error_name: str, base: list[Labels]
) -> _Step:
    def step(ts: int, line: str, lbs: Labels) -> tuple[str, Labels]:
        extracted, err = parse(line)
        lbs = parsers.merge_extracted(base[0], extracted, lbs)
        if err:
            lbs[ERROR_LABEL] = err or error_name  # Loki's SetErr: the latest error wins
        return line, lbs

    return step


def _entry_metadata(meta: bytes) -> Labels:
    """One entry's structured metadata as labels (stored as a JSON object of strings)."""
    if not meta:
        return {}
    try:
        got = json.loads(meta)
    except ValueError:
        return {}
    if not isinstance(got, dict):
        return {}
    return {str(k): v for k, v in got.items() if isinstance(v, str)}


def metadata_labels(metadata: Labels, stream_labels: Labels) -> Labels:
    """Structured metadata as the pipeline sees it: a name that is also a stream label gets
    `_extracted` appended (Loki's LabelsBuilder.Add checks BaseHas for metadata too)."""
    if not any(k in stream_labels for k in metadata):
        return metadata
    return {(k + parsers.DUPLICATE_SUFFIX if k in stream_labels else k): v for k, v in metadata.items()}


def _drop(lbs: Labels, items: tuple[str | Matcher, ...]) -> Labels:
    for it in items:
        if isinstance(it, str):
            lbs.pop(it, None)
        elif it.name in lbs and it.matches(lbs[it.name]):
            del lbs[it.name]
    return lbs


def _keep(lbs: Labels, items: tuple[str | Matcher, ...]) -> Labels:
    out: Labels = {}
    for it in items:
        if isinstance(it, str):
            if it in lbs:
                out[it] = lbs[it]
        elif it.name in lbs and it.matches(lbs[it.name]):
            out[it.name] = lbs[it.name]
    return out


def _unwrap_value(unwrap: Unwrap, lbs: Labels) -> float | None:
    """The unwrapped sample value, or None when the entry has no such label (or it is empty):
    Loki skips those entries. A value that does not convert marks the entry
    SampleExtractionErr with Go's message, and keeps the value Go returned with the error
    (0, or +-Inf past float64's range)."""
    raw = lbs.get(unwrap.identifier)
    if not raw:
        return None
    try:
        if unwrap.conversion is None:
            return parse_go_float(raw)
        if unwrap.conversion is UnwrapConversion.BYTES:
            return float(parse_bytes(raw))
        return parse_duration_ns(raw) / 1e9
    except ValueError as exc:
        lbs[ERROR_LABEL] = "SampleExtractionErr"
        lbs[ERROR_DETAILS_LABEL] = str(exc)
        return exc.value if isinstance(exc, GoRangeError) else 0.0


class Pipeline:
    """Compiled once per query; `process` is called for every chunk of every stream.

    `budget`, when given, is the query's: checked and charged as lines are processed."""

    def __init__(
        self,
        stages: tuple[StageExpr, ...],
        unwrap: Unwrap | None = None,
        *,
        max_line_bytes: int = DEFAULT_MAX_BYTES,
        budget: QueryBudget | None = None,
    ):
        i = 0
        self.vector_filters: list[tuple[str, list[str | IPMatcher]]] = []
        while i < len(stages) and isinstance(stages[i], (LineFilter, LineFilterOr)):
            self.vector_filters.append(_filter_values(stages[i]))  # type: ignore[arg-type]
            i += 1
        for op, values in self.vector_filters:
            if op in ("|~", "!~"):
                for v in values:
                    compile_regex(v)  # fail at compile time, not per chunk
        # the entry being processed: stream labels plus its structured metadata
        self._base: list[Labels] = [{}]
        self.steps = [_step(s, max_line_bytes, self._base) for s in stages[i:]]
        self.formats = any(isinstance(s, (LabelFormat, LineFormat)) for s in stages)
        self.unwrap = unwrap
        self.budget = budget
        self.post = [_label_filter(f) for f in unwrap.post_filters] if unwrap else []

    @property
    def per_line(self) -> bool:
        return bool(self.steps) or self.unwrap is not None

    def process(self, stream_labels: Labels, cols: LogColumns) -> PipelineOutput:
        n = len(cols)
        if self.vector_filters and n:
            mask = np.ones(n, dtype=bool)
            for op, values in self.vector_filters:
                mask &= line_mask(cols, op, values)
            index = np.nonzero(mask)[0]
        else:
            index = np.arange(n, dtype=np.int64)
        if not self.per_line:
            return PipelineOutput(index, None, None, None)
        keep: list[int] = []
        out_labels: list[Labels] = []
        out_lines: list[str] = []
        values: list[float] = []
        ts_list = cols.timestamps[index].tolist()
        data, ends = cols.data, cols.ends
        budget = self.budget
        charged = 0
        accounted = 0  # entries of out_* already charged
        sizes = np.diff(ends, prepend=0) if budget is not None else ends
        idx_list = index.tolist()
        has_meta = bool(cols.meta)  # a chunk without metadata pays nothing per entry for it
        self._base[0] = stream_labels
        for b0 in range(0, len(idx_list), LINE_BATCH):
            if budget is not None and b0:
                stored = int(sizes[keep[accounted:]].sum())
                charged += self._charge(budget, out_lines, out_labels, accounted, stored)
                accounted = len(out_lines)
            for i, ts in zip(idx_list[b0 : b0 + LINE_BATCH], ts_list[b0 : b0 + LINE_BATCH]):
                start = int(ends[i - 1]) if i else 0
                line = data[start : int(ends[i])].decode("utf-8", "replace")
                lbs = dict(stream_labels)
                if has_meta:
                    lbs.update(metadata_labels(_entry_metadata(cols.metadata(i)), stream_labels))
                    self._base[0] = dict(lbs)
                ok = True
                for step in self.steps:
                    got = step(ts, line, lbs)
                    if got is None:
                        ok = False
                        break
                    line, lbs = got
                if not ok:
                    continue
                if self.unwrap is not None:
                    v = _unwrap_value(self.unwrap, lbs)
                    if v is None:
                        continue
                    lbs.pop(self.unwrap.identifier, None)
                    if not all(p(lbs) for p in self.post):
                        continue
                    values.append(v)
                keep.append(i)
                out_labels.append(lbs)
                out_lines.append(line)
        if budget is not None and idx_list:
            stored = int(sizes[keep[accounted:]].sum())
            charged += self._charge(budget, out_lines, out_labels, accounted, stored)
        return PipelineOutput(
            np.array(keep, dtype=np.int64),
            out_labels,
            out_lines,
            np.array(values, dtype=np.float64) if self.unwrap is not None else None,
            charged,
        )

    def _charge(
        self, budget: QueryBudget, lines: list[str], labels: list[Labels], start: int, stored: int
    ) -> int:
        """Charge the entries kept since `start` (one batch) and check the deadline. `stored`
        is the batch's stored line bytes: without a formatting stage every label a parser made
        is a piece of those lines (2x covers sanitized and prefixed JSON names), so label text
        is only measured label by label when a template could have made it."""
        n = len(lines) - start
        text = None if self.formats else 2 * stored
        nbytes = sum(map(len, lines[start:])) + n * ENTRY_BYTES + labels_bytes(labels[start:], text)
        budget.charge(nbytes)
        return nbytes
