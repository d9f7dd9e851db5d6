"""Checks and fingerprints for many new metric label sets at once (a new target's first scrape).

`Database._check_labels` and `metric_fingerprint` cost a few microseconds a series in Python
loops over labels; for 100k new series that was most of the first scrape. Here the same rules
run over all label sets' names and values flattened into lists, with `map` and numpy doing the
per-label work in C, and the fingerprints hash slices of one buffer encoded once. Label sets
that are not plain (not tuples of `(str, str)` pairs, unsorted, too many labels, a long value,
a bad metric name, non-ASCII text) are left to the per-series path, which alone words errors.
"""

from __future__ import annotations

import hashlib
import operator
from itertools import chain
from typing import Callable, Sequence

import numpy as np

from heron.model import METRIC_NAME_RE, Labels

__all__ = ["plain_new_series", "BulkText"]

BulkText = tuple[bytes, np.ndarray]  # every name and value, concatenated; their byte lengths (u4)

_METRIC_KIND = b"\x02"  # int(SeriesKind.METRIC), the first byte every metric fingerprint hashes


def plain_new_series(
    labs: Sequence[Labels],
    name_ok: Callable[[str], bool],
    max_labels: int,
    max_value_bytes: int,
) -> tuple[np.ndarray, list[int], BulkText | None]:
    """(mask of the label sets that pass every check, their fingerprints in order, and when all
    pass, their text as `wal.encode_series_batch` takes it).

    A label set passes when it is a non-empty tuple of `(str, str)` tuples, strictly sorted by
    name (so no name repeats), with at most `max_labels` labels, every name accepted by
    `name_ok`, every value short enough that its UTF-8 cannot exceed `max_value_bytes`, a valid
    `__name__`, and only ASCII text. The fingerprints are `heron.model.fingerprint(labels,
    SeriesKind.METRIC)` of the passing ones. The mask is all False when the input is not of that
    shape at all, so the caller's general path takes everything.
    """
    k = len(labs)
    none = np.zeros(k, dtype=bool)
    if k == 0 or set(map(type, labs)) != {tuple}:
        return none, [], None
    pairs = list(chain.from_iterable(labs))
    if not pairs or set(map(type, pairs)) != {tuple} or set(map(len, pairs)) != {2}:
        return none, [], None
    flat = list(chain.from_iterable(pairs))
    # Each label set hashes `name 0xff value 0xff ...`. Joined by NUL and encoded as ASCII (which
    # also checks the text is ASCII), then NUL turned into 0xff, one buffer holds them all in
    # order and a set's bytes are a slice of it. A NUL inside a string would be turned too.
    try:
        raw = ("\x00".join(flat) + "\x00").encode("ascii")
    except (TypeError, UnicodeEncodeError):  # a name or value that is not a str, or not ASCII
        return none, [], None
    if raw.count(0) != len(flat):
        return none, [], None
    names, values = flat[0::2], flat[1::2]
    if not all(map(name_ok, set(names))):
        return none, [], None
    counts = np.fromiter(map(len, labs), dtype=np.int64, count=k)
    if int(counts.min()) == 0:
        return none, [], None
    ok = counts <= max_labels
    starts = np.zeros(k, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    n = len(pairs)
    # Strictly increasing names inside each label set (the step into a set is not one).
    rising = np.ones(n, dtype=bool)
    rising[1:] = np.fromiter(map(operator.lt, names[:-1], names[1:]), dtype=bool, count=n - 1)
    rising[starts] = True
    ok &= np.logical_and.reduceat(rising, starts)
    lens = np.fromiter(map(len, flat), dtype=np.int64, count=2 * n)
    short = lens[1::2] * 4 <= max_value_bytes
    ok &= np.logical_and.reduceat(short, starts)
    is_name = np.fromiter(map("__name__".__eq__, names), dtype=bool, count=n)
    ok &= np.add.reduceat(is_name.astype(np.int64), starts) == 1
    name_pos = np.nonzero(is_name)[0]
    metric_names = [values[i] for i in name_pos.tolist()]
    bad = {m for m in set(metric_names) if not METRIC_NAME_RE.fullmatch(m)}
    if bad:
        wrong = np.fromiter(map(bad.__contains__, metric_names), dtype=bool, count=len(metric_names))
        ok[np.searchsorted(starts, name_pos[wrong], side="right") - 1] = False
    buf = memoryview(raw.replace(b"\x00", b"\xff"))
    per_set = np.add.reduceat((lens + 1).reshape(n, 2).sum(axis=1), starts)
    ends = np.cumsum(per_set)
    begins = ends - per_set
    fps: list[int] = []
    base = hashlib.blake2b(_METRIC_KIND, digest_size=8)
    for a, b in zip(begins[ok].tolist(), ends[ok].tolist()):
        h = base.copy()
        h.update(buf[a:b])
        fps.append(int.from_bytes(h.digest(), "little"))
    text = (raw.replace(b"\x00", b""), lens.astype("<u4")) if bool(ok.all()) else None
    return ok, fps, text
