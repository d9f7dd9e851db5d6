"""The engine's own area of Prometheus' test suite must pass whole, not only hold the ratchet:
selectors, staleness, @, subqueries, operators, collisions, literals, name dropping and range
queries exercise the tree walk rather than the function tables."""

from __future__ import annotations

import pytest

from promqltest.harness import run_file
from promqltest.run import TESTDATA

ENGINE_FILES = (
    "selectors.test",
    "staleness.test",
    "at_modifier.test",
    "subquery.test",
    "operators.test",
    "collision.test",
    "literals.test",
    "name_label_dropping.test",
    "range_queries.test",
)

pytestmark = pytest.mark.skipif(not TESTDATA.is_dir(), reason=f"conformance data not at {TESTDATA}")


@pytest.mark.parametrize("name", ENGINE_FILES)
def test_engine_file_passes_every_eval(name: str) -> None:
    report = run_file(TESTDATA / name)
    assert report.count("pass") > 0
    failed = [f"{name}:{o.line}: {o.query}\n    {o.detail}" for o in report.outcomes if o.status == "fail"]
    assert not failed, "\n".join(failed)
