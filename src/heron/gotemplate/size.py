"""The output-size bound: a render may produce at most the max line size."""

from __future__ import annotations

from heron.gotemplate.errors import _FnError

# --- output size ------------------------------------------------------------------------------

DEFAULT_MAX_BYTES = 256 * 1024  # Heron's default max_line_size


def _utf8_len(s: str) -> int:
    """UTF-8 size of text (a lone surrogate counts its three bytes), without copying ASCII."""
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def _too_long(size: int, limit: int, partial: bool = False) -> str:
    """The error text; `partial` when `size` counts only what was built before stopping."""
    what = f"at least {size}" if partial else str(size)
    return f"output of {what} bytes exceeds the maximum line size of {limit} bytes (max_line_size)"


def _check_size(size: int, limit: int, partial: bool = False) -> None:
    if size > limit:
        raise _FnError(_too_long(size, limit, partial))
