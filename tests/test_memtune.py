"""glibc allocator tuning: both calls work here (Debian's glibc) and never raise."""

from __future__ import annotations

from heron.memtune import limit_arenas, trimmer


def test_limit_arenas_and_trim_take_effect_on_glibc() -> None:
    assert limit_arenas(8) is True  # a generous cap: the test process keeps its behaviour
    trim = trimmer()
    assert trim is not None
    assert trim() in (0, 1)  # malloc_trim returns whether memory was released
