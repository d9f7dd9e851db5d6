"""Structured metadata is part of the labels the pipeline sees, as in Loki's LabelsBuilder.

Label filters, formatters, drop and unwrap see an entry's structured metadata; a parsed name
that is a stream label or a metadata name gets `_extracted` appended.
"""

from __future__ import annotations

import time

import pytest

from heron.api.render import render_query_result
from heron.logql.engine import Engine
from heron.model import labels_from
from heron.storage import Database, Direction, LogBatch, StorageOptions

S = 1_000_000_000
T = (time.time_ns() // S - 60) * S
LINE = b'{"app":"foo","pod":"pod_parsed","n":"7"}'


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    db = Database.open(str(tmp_path_factory.mktemp("sm") / "d"), StorageOptions(), background=False)
    db.append(
        logs=[
            LogBatch(labels_from({"job": "sm"}), [T], [LINE], [b'{"pod":"pod_sm","size":"3"}']),
            LogBatch(labels_from({"job": "plain"}), [T], [LINE]),
            LogBatch(labels_from({"job": "two"}), [T, T + S], [b"k=a", b"k=b"]),
            LogBatch(
                labels_from({"job": "packed"}),
                [T],
                [b'{"app":"foo","_entry":"some message","pod":{"uid":"1"},"n":1}'],
            ),
        ]
    )
    yield Engine(db)
    db.close()


def _streams(engine: Engine, q: str) -> list[dict]:
    res = engine.query_range(q, T - S, T + S, S, limit=10)
    return render_query_result(res)["data"]["result"]


def _labels(engine: Engine, q: str) -> list[dict[str, str]]:
    return [s["stream"] for s in _streams(engine, q)]


def test_parsed_names_colliding_with_metadata_get_extracted_suffix(engine):
    for parser in (
        "json",
        'json pod="pod"',
        'regexp `"pod":"(?P<pod>[^"]+)"`',
        'pattern `<_>"pod":"<pod>"<_>`',
    ):
        got = _labels(engine, f'{{job="sm"}} | {parser}')
        assert len(got) == 1
        assert got[0]["pod"] == "pod_sm", parser
        assert got[0]["pod_extracted"] == "pod_parsed", parser
    # without metadata the parsed name stays as it is
    assert _labels(engine, '{job="plain"} | json')[0]["pod"] == "pod_parsed"


def test_stages_see_structured_metadata(engine):
    assert _labels(engine, '{job="sm"} | pod="pod_sm"') == [{"job": "sm", "pod": "pod_sm", "size": "3"}]
    assert _labels(engine, '{job="sm"} | pod="other"') == []
    assert [v[1] for v in _streams(engine, '{job="sm"} | line_format "{{.pod}}"')[0]["values"]] == ["pod_sm"]
    assert _labels(engine, '{job="sm"} | label_format p="{{.pod}}"')[0]["p"] == "pod_sm"
    assert _labels(engine, '{job="sm"} | size > 2') != []
    res = engine.query_range('sum(sum_over_time({job="sm"} | unwrap size [1m]))', T, T, S)
    assert [float(v) for v in res.matrix[0].values] == [3.0]


def test_drop_and_keep_of_metadata_labels_stick(engine):
    assert _labels(engine, '{job="sm"} | drop pod') == [{"job": "sm", "size": "3"}]
    assert _labels(engine, '{job="sm"} | keep job') == [{"job": "sm"}]


def test_categorized_metadata_is_what_survived_the_pipeline(engine):
    res = engine.query_range('{job="sm"} | drop size', T - S, T + S, S, limit=10)
    out = render_query_result(res, categorize=True)["data"]["result"]
    assert out[0]["stream"] == {"job": "sm"}
    assert out[0]["values"][0][2] == {"structuredMetadata": {"pod": "pod_sm"}}


def _categorized(engine: Engine, q: str, direction: Direction = Direction.FORWARD) -> list[dict]:
    res = engine.query_range(q, T - S, T + 10 * S, S, limit=10, direction=direction)
    return render_query_result(res, categorize=True)["data"]["result"]


def test_categorize_splits_stream_metadata_and_parsed(engine):
    [st] = _categorized(engine, '{job="sm"} | json')
    assert st["stream"] == {"job": "sm"}
    assert st["values"][0][2] == {
        "structuredMetadata": {"pod": "pod_sm", "size": "3"},
        "parsed": {"app": "foo", "n": "7", "pod_extracted": "pod_parsed"},
    }


def test_categorize_errors_and_overwritten_stream_labels_are_parsed(engine):
    [st] = _categorized(engine, '{job="two"} | json | label_format job="new"')
    assert st["stream"] == {}
    for value in st["values"]:
        assert value[2]["parsed"]["job"] == "new"
        assert value[2]["parsed"]["__error__"] == "JSONParserErr"
        assert "__error_details__" in value[2]["parsed"]


def test_categorize_groups_by_stream_labels_only(engine):
    # two entries whose parsed labels differ stay in one stream, in the query's direction
    for direction, order in ((Direction.FORWARD, ["a", "b"]), (Direction.BACKWARD, ["b", "a"])):
        got = _categorized(engine, '{job="two"} | logfmt', direction)
        assert [s["stream"] for s in got] == [{"job": "two"}]
        assert [v[2]["parsed"]["k"] for v in got[0]["values"]] == order
    # without the flag the labels stay flat: one stream per label set
    res = engine.query_range('{job="two"} | logfmt', T - S, T + 10 * S, S, limit=10)
    assert len(render_query_result(res)["data"]["result"]) == 2


def test_unpack_replaces_the_line_with_entry_and_skips_non_strings(engine):
    [st] = _streams(engine, '{job="packed"} | unpack')
    assert st["stream"] == {"job": "packed", "app": "foo"}
    assert st["values"][0][1] == "some message"
    [st] = _streams(engine, '{job="packed"} | unpack | json')
    assert st["stream"]["__error__"] == "JSONParserErr"
    [st] = _streams(engine, '{job="packed"} | unpack | line_format "{{.app}}: {{__line__}}"')
    assert st["values"][0][1] == "foo: some message"


def test_metadata_sharing_a_stream_label_name_is_suffixed(tmp_path) -> None:
    db = Database.open(str(tmp_path / "d"), StorageOptions(), background=False)
    try:
        db.append(logs=[LogBatch(labels_from({"foo": "bar"}), [T], [b"user=bob"], [b'{"foo":"baz"}'])])
        eng = Engine(db)
        want = {"foo": "bar", "foo_extracted": "baz"}
        assert _labels(eng, '{foo="bar"}') == [want]
        assert _labels(eng, '{foo="bar"} | foo="bar"') == [want]
        got = _streams(eng, '{foo="bar"} | logfmt | line_format "{{.foo}} {{.foo_extracted}} {{.user}}"')
        assert got[0]["values"][0][1] == "bar baz bob"
        [st] = _categorized(eng, '{foo="bar"} | foo_extracted="baz"')
        assert st["stream"] == {"foo": "bar"}
        assert st["values"][0][2] == {"structuredMetadata": {"foo_extracted": "baz"}}
    finally:
        db.close()


def test_first_extraction_wins_and_the_latest_error(tmp_path) -> None:
    db = Database.open(str(tmp_path / "d"), StorageOptions(), background=False)
    try:
        db.append(logs=[LogBatch(labels_from({"job": "x"}), [T], [b"k=a z=b k=c"])])
        eng = Engine(db)
        # within a line and across stages, a key already extracted keeps its first value
        assert _labels(eng, '{job="x"} | logfmt')[0]["k"] == "a"
        assert _labels(eng, '{job="x"} | logfmt | regexp "z=(?P<k>\\\\w+)"')[0]["k"] == "a"
        # a later parser's error replaces an earlier one (Loki's SetErr)
        got = _labels(eng, '{job="x"} | json | line_format "{{ eq .job 200 }}"')
        assert got[0]["__error__"] == "TemplateFormatErr"
        assert got[0]["__error_details__"] != _labels(eng, '{job="x"} | json')[0]["__error_details__"]
        got = _labels(eng, '{job="x"} | json | label_format y=`{{ eq .job 200 }}`')
        assert got[0]["__error__"] == "TemplateFormatErr"
        got = _labels(eng, '{job="x"} | line_format "{{ eq .job 200 }}" | json')
        assert got[0]["__error__"] == "JSONParserErr"
    finally:
        db.close()
