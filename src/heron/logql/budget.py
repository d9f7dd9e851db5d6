"""What one query may spend: a deadline and a memory budget, checked inside the engine's loops.

A query that runs away must stop by itself, in whatever process evaluates it, before the
kernel or a watchdog has to step in. So the engine carries one `QueryBudget` through every
loop that can grow with the data (chunks, lines of a per-line pipeline, output series, step
matrices, vector operations) and calls it there:

* `check()` raises QueryTimeoutError once the deadline has passed. It is a clock read and a
  compare, cheap enough for the pipeline to call every `LINE_BATCH` lines.
* `charge(n)` adds n bytes to what the query holds and raises QueryMemoryError past the limit;
  `release(n)` gives bytes back when the engine drops what they paid for (a decoded chunk once
  its entries are grouped, the operands of a vector operation once its result exists).

The bytes are estimates made per chunk or per batch, never per entry in Python: a line costs
its length plus `ENTRY_BYTES` for the objects around it (a str header, a tuple, an int), a
label map `MAP_BYTES` plus `LABEL_BYTES` a label plus its value's length, a step matrix its
array size, and an answer what rendering it to JSON takes (`POINT_BYTES` a point). They aim to
be within a small factor of what the process really holds, so a budget of N bytes keeps a query
well below a few N of resident memory, whatever it asks for.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from itertools import chain

from heron.logql.result import QueryMemoryError, QueryTimeoutError

__all__ = [
    "QueryBudget",
    "DEFAULT_MEMORY_BYTES",
    "LINE_BATCH",
    "ENTRY_BYTES",
    "MAP_BYTES",
    "LABEL_BYTES",
    "POINT_BYTES",
    "labels_bytes",
]

DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024  # the default of the query_memory_budget setting
LINE_BATCH = 128  # lines a per-line pipeline runs between two deadline and memory checks
ENTRY_BYTES = 160  # a kept entry's objects besides its line: str header, row tuple, ints
MAP_BYTES = 240  # an empty dict with room for a few keys
LABEL_BYTES = 120  # one more key/value pair: dict slot, two str headers
POINT_BYTES = 200  # one rendered point: a [ts, "value"] list, its items, and its JSON text


def labels_bytes(maps: Iterable[Mapping[str, str]], text: int | None = None) -> int:
    """Estimated bytes of label maps; the iteration runs in C (map/chain/sum), not per label.

    `text` bounds the names' and values' length when the caller knows one already (parsed
    labels are pieces of the line they came from); otherwise they are measured."""
    maps = list(maps)
    if not maps:
        return 0
    pairs = sum(map(len, maps))
    if text is None:
        text = sum(map(len, chain.from_iterable(maps))) + sum(
            map(len, chain.from_iterable(map(dict.values, maps)))  # type: ignore[arg-type]
        )
    return len(maps) * MAP_BYTES + pairs * LABEL_BYTES + text


class QueryBudget:
    """The deadline (time.monotonic) and memory limit of one query, and what it holds now."""

    __slots__ = ("deadline", "limit", "held", "peak")

    def __init__(self, deadline: float, limit: int = DEFAULT_MEMORY_BYTES) -> None:
        self.deadline = deadline
        self.limit = limit
        self.held = 0
        self.peak = 0

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise QueryTimeoutError("the query exceeded its time limit and was cancelled")

    def charge(self, nbytes: int) -> None:
        """Account for bytes the query now holds (or is about to allocate); also checks time."""
        self.held += nbytes
        if self.held > self.peak:
            self.peak = self.held
        if self.held > self.limit:
            raise QueryMemoryError(
                f"query exceeded its memory budget of {self.limit} bytes (query_memory_budget): it "
                f"needed about {self.held} bytes for lines, labels, series and steps; narrow the "
                "time range or the selector, filter lines earlier, aggregate, or use a larger step"
            )
        self.check()

    def release(self, nbytes: int) -> None:
        self.held = max(0, self.held - nbytes)
