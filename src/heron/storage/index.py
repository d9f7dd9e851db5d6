"""Inverted index: label name -> value -> series fingerprints, and matcher evaluation over it.

Head and blocks share this structure; the head adds to it while readers use it, so additions
only ever create new sets or add to existing ones (safe under the GIL for concurrent readers
that copy what they read).
"""

from __future__ import annotations

from typing import Iterable

from heron.model import Labels, Matcher, MatchOp

__all__ = ["Postings", "select"]


_Ids = int | list[int]
"""A label value's series: a bare fingerprint while there is one (values of `pod` and the like
usually belong to a single series), then a list. A set costs ~70 bytes per member against 8
for a list slot; series are added once per head, so the list never holds duplicates, and
queries build sets only for the values they touch."""


def _as_set(ids: _Ids) -> set[int]:
    return {ids} if isinstance(ids, int) else set(ids)


class Postings:
    """`track_all=False` is for id spaces that know their members otherwise (the head's dense
    metric slots): they override `all_ids` and save a set entry per series."""

    def __init__(self, track_all: bool = True) -> None:
        self.by_label: dict[str, dict[str, _Ids]] = {}
        self.all: set[int] = set()
        self._track_all = track_all

    def all_ids(self) -> set[int]:
        return set(self.all)

    def add(self, fp: int, labels: Labels) -> None:
        if self._track_all:
            self.all.add(fp)
        for name, value in labels:
            values = self.by_label.get(name)
            if values is None:
                values = self.by_label[name] = {}
            ids = values.get(value)
            if ids is None:
                values[value] = fp
            elif isinstance(ids, int):
                if ids != fp:
                    values[value] = [ids, fp]
            elif fp not in ids[-1:]:
                ids.append(fp)

    def remove(self, fp: int, labels: Labels) -> None:
        self.all.discard(fp)
        for name, value in labels:
            values = self.by_label.get(name)
            if values is None:
                continue
            ids = values.get(value)
            if isinstance(ids, int):
                if ids == fp:
                    del values[value]
            elif ids is not None:
                if fp in ids:
                    ids.remove(fp)
                if not ids:
                    del values[value]
            if not values:
                del self.by_label[name]

    def label_names(self) -> list[str]:
        return list(self.by_label)

    def label_values(self, name: str) -> list[str]:
        return list(self.by_label.get(name, ()))


def _matching(postings: Postings, m: Matcher) -> set[int]:
    """Series whose value for m.name satisfies m, ignoring series that lack the label."""
    values = postings.by_label.get(m.name)
    if not values:
        return set()
    if m.op is MatchOp.EQ:
        ids = values.get(m.value)
        return set() if ids is None else _as_set(ids)
    out: set[int] = set()
    for value, ids in list(values.items()):
        if m.matches(value):
            if isinstance(ids, int):
                out.add(ids)
            else:
                out.update(ids)
    return out


def _with_label(postings: Postings, name: str) -> set[int]:
    out: set[int] = set()
    for ids in list(postings.by_label.get(name, {}).values()):
        if isinstance(ids, int):
            out.add(ids)
        else:
            out.update(ids)
    return out


def select(postings: Postings, matchers: Iterable[Matcher]) -> set[int]:
    """Fingerprints of series selected by all matchers, with Prometheus' empty-label rules.

    Matchers that select the empty value (e.g. `a=""`, `a!="x"`, `a=~".*"`) also select series
    without the label, so they are applied by subtraction rather than intersection.
    """
    result: set[int] | None = None
    subtract: list[set[int]] = []
    for m in matchers:
        if not m.matches_empty():
            hit = _matching(postings, m)
            result = hit if result is None else (result & hit)
            if not result:
                return set()
        else:
            # Series that have the label with a value the matcher rejects are excluded.
            have = _with_label(postings, m.name)
            subtract.append(have - _matching(postings, m))
    if result is None:
        result = postings.all_ids()
    for s in subtract:
        result -= s
    return result
