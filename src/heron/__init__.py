"""Heron: Kubernetes logs and metrics in one small program.

This module stays import-free on purpose: `heron --help` and `heron version` must work even
while a subsystem (storage, query, ...) is broken or half-built, and tools that only want the
version should not pay for numpy.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
