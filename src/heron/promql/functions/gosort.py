"""Go's unstable sort (pattern-defeating quicksort), step for step, over a Python list.

PromQL's `sort`, `sort_desc` (`sort.Sort`) and `sort_by_label*` (`slices.SortFunc`) are not
stable, and their comparators are not always consistent orders: two NaNs are each "less" than
the other in `sort`, and a label missing from both series of a pair compares as "greater"
both ways in `sort_by_label`. Which permutation comes out then depends on the algorithm
itself, so matching Prometheus' order means running the same algorithm: this is Go's
`pdqsort` (`sort/zsortinterface.go`, `slices/zsortanyfunc.go`, identical in shape), with the
same insertion-sort cut-off, pivot choice, pattern breaking and heapsort fallback.

This is per-element Python by nature (a comparison sort with a caller's comparator); callers
use it only where a consistent order cannot be proven, and over one step's rows.
"""

from __future__ import annotations

from typing import Callable, TypeVar

__all__ = ["go_sort"]

T = TypeVar("T")
Less = Callable[[T, T], bool]

_MAX_INSERTION = 12
_SHORTEST_NINTHER = 50
_MAX_SWAPS = 4 * 3
_SHORTEST_SHIFTING = 50
_UNKNOWN, _INCREASING, _DECREASING = 0, 1, 2
_MASK64 = (1 << 64) - 1
# breakPatterns' xorshift shifts: Go 1.24 and later (golang/go#70144); Go 1.19-1.23 had (13, 17, 5).
_XORSHIFT = (13, 7, 17)


def go_sort(data: list[T], less: Less[T]) -> None:
    """Sort `data` in place exactly as Go's `sort.Sort` / `slices.SortFunc` would, where
    `less(a, b)` is `Less` (or `cmp(a, b) < 0`)."""
    n = len(data)
    if n > 1:
        _pdqsort(data, 0, n, n.bit_length(), less)


def _insertion_sort(data: list[T], a: int, b: int, less: Less[T]) -> None:
    for i in range(a + 1, b):
        j = i
        while j > a and less(data[j], data[j - 1]):
            data[j], data[j - 1] = data[j - 1], data[j]
            j -= 1


def _sift_down(data: list[T], lo: int, hi: int, first: int, less: Less[T]) -> None:
    root = lo
    while True:
        child = 2 * root + 1
        if child >= hi:
            return
        if child + 1 < hi and less(data[first + child], data[first + child + 1]):
            child += 1
        if not less(data[first + root], data[first + child]):
            return
        data[first + root], data[first + child] = data[first + child], data[first + root]
        root = child


def _heap_sort(data: list[T], a: int, b: int, less: Less[T]) -> None:
    first = a
    hi = b - a
    for i in range((hi - 1) // 2, -1, -1):
        _sift_down(data, i, hi, first, less)
    for i in range(hi - 1, -1, -1):
        data[first], data[first + i] = data[first + i], data[first]
        _sift_down(data, 0, i, first, less)


def _pdqsort(data: list[T], a: int, b: int, limit: int, less: Less[T]) -> None:
    was_balanced = True
    was_partitioned = True
    while True:
        length = b - a
        if length <= _MAX_INSERTION:
            _insertion_sort(data, a, b, less)
            return
        if limit == 0:
            _heap_sort(data, a, b, less)
            return
        if not was_balanced:
            _break_patterns(data, a, b)
            limit -= 1
        pivot, hint = _choose_pivot(data, a, b, less)
        if hint == _DECREASING:
            _reverse_range(data, a, b)
            pivot = (b - 1) - (pivot - a)
            hint = _INCREASING
        if was_balanced and was_partitioned and hint == _INCREASING:
            if _partial_insertion_sort(data, a, b, less):
                return
        if a > 0 and not less(data[a - 1], data[pivot]):
            a = _partition_equal(data, a, b, pivot, less)
            continue
        mid, already = _partition(data, a, b, pivot, less)
        was_partitioned = already
        left_len, right_len = mid - a, b - mid
        threshold = length // 8
        if left_len < right_len:
            was_balanced = left_len >= threshold
            _pdqsort(data, a, mid, limit, less)
            a = mid + 1
        else:
            was_balanced = right_len >= threshold
            _pdqsort(data, mid + 1, b, limit, less)
            b = mid


def _partition(data: list[T], a: int, b: int, pivot: int, less: Less[T]) -> tuple[int, bool]:
    data[a], data[pivot] = data[pivot], data[a]
    i, j = a + 1, b - 1
    while i <= j and less(data[i], data[a]):
        i += 1
    while i <= j and not less(data[j], data[a]):
        j -= 1
    if i > j:
        data[j], data[a] = data[a], data[j]
        return j, True
    data[i], data[j] = data[j], data[i]
    i += 1
    j -= 1
    while True:
        while i <= j and less(data[i], data[a]):
            i += 1
        while i <= j and not less(data[j], data[a]):
            j -= 1
        if i > j:
            break
        data[i], data[j] = data[j], data[i]
        i += 1
        j -= 1
    data[j], data[a] = data[a], data[j]
    return j, False


def _partition_equal(data: list[T], a: int, b: int, pivot: int, less: Less[T]) -> int:
    data[a], data[pivot] = data[pivot], data[a]
    i, j = a + 1, b - 1
    while True:
        while i <= j and not less(data[a], data[i]):
            i += 1
        while i <= j and less(data[a], data[j]):
            j -= 1
        if i > j:
            break
        data[i], data[j] = data[j], data[i]
        i += 1
        j -= 1
    return i


def _partial_insertion_sort(data: list[T], a: int, b: int, less: Less[T]) -> bool:
    i = a + 1
    for _ in range(5):
        while i < b and not less(data[i], data[i - 1]):
            i += 1
        if i == b:
            return True
        if b - a < _SHORTEST_SHIFTING:
            return False
        data[i], data[i - 1] = data[i - 1], data[i]
        if i - a >= 2:
            j = i - 1
            while j >= 1:
                if not less(data[j], data[j - 1]):
                    break
                data[j], data[j - 1] = data[j - 1], data[j]
                j -= 1
        if b - i >= 2:
            j = i + 1
            while j < b:
                if not less(data[j], data[j - 1]):
                    break
                data[j], data[j - 1] = data[j - 1], data[j]
                j += 1
    return False


def _break_patterns(data: list[T], a: int, b: int) -> None:
    length = b - a
    if length < 8:
        return
    state = length
    modulus = 1 << length.bit_length()
    idx = a + (length // 4) * 2 - 1
    while idx <= a + (length // 4) * 2 + 1:
        left1, right, left2 = _XORSHIFT
        state ^= (state << left1) & _MASK64
        state ^= state >> right
        state ^= (state << left2) & _MASK64
        other = state & (modulus - 1)
        if other >= length:
            other -= length
        data[idx], data[a + other] = data[a + other], data[idx]
        idx += 1


def _choose_pivot(data: list[T], a: int, b: int, less: Less[T]) -> tuple[int, int]:
    n = b - a
    swaps = [0]
    i = a + n // 4 * 1
    j = a + n // 4 * 2
    k = a + n // 4 * 3
    if n >= 8:
        if n >= _SHORTEST_NINTHER:
            i = _median(data, i - 1, i, i + 1, swaps, less)
            j = _median(data, j - 1, j, j + 1, swaps, less)
            k = _median(data, k - 1, k, k + 1, swaps, less)
        j = _median(data, i, j, k, swaps, less)
    if swaps[0] == 0:
        return j, _INCREASING
    if swaps[0] == _MAX_SWAPS:
        return j, _DECREASING
    return j, _UNKNOWN


def _order2(data: list[T], a: int, b: int, swaps: list[int], less: Less[T]) -> tuple[int, int]:
    if less(data[b], data[a]):
        swaps[0] += 1
        return b, a
    return a, b


def _median(data: list[T], a: int, b: int, c: int, swaps: list[int], less: Less[T]) -> int:
    a, b = _order2(data, a, b, swaps, less)
    b, c = _order2(data, b, c, swaps, less)
    a, b = _order2(data, a, b, swaps, less)
    return b


def _reverse_range(data: list[T], a: int, b: int) -> None:
    data[a:b] = data[a:b][::-1]
