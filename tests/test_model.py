"""The shared model: stable fingerprints, Prometheus matcher semantics, label-set parsing."""

from __future__ import annotations

import math

import pytest

from heron.model import (
    STALE_NAN,
    Matcher,
    MatchOp,
    SeriesKind,
    fingerprint,
    format_labels,
    is_stale_nan,
    labels_from,
    parse_label_set,
)


def test_fingerprint_is_pinned_across_versions() -> None:
    # Stored on disk and in the WAL: changing it would orphan every series.
    labels = labels_from({"app": "api", "namespace": "prod"})
    assert fingerprint(labels, SeriesKind.LOG) == fingerprint(labels, SeriesKind.LOG)
    assert fingerprint(labels, SeriesKind.LOG) != fingerprint(labels, SeriesKind.METRIC)
    assert fingerprint(labels, SeriesKind.LOG) == 0xD6470FA108B23083


def test_fingerprint_encoding_is_unambiguous() -> None:
    a = labels_from({"a": "b\xffc"})
    b = labels_from({"a": "b", "c": ""})
    assert fingerprint(a, SeriesKind.LOG) != fingerprint(labels_from({"ab": "c"}), SeriesKind.LOG)
    assert b == (("a", "b"),)  # empty values are dropped, as Prometheus does
    assert fingerprint(a, SeriesKind.LOG) != fingerprint(b, SeriesKind.LOG)


@pytest.mark.parametrize(
    ("op", "value", "present", "absent_matches"),
    [
        ("=", "x", {"x": True, "y": False}, False),
        ("=", "", {"x": False}, True),
        ("!=", "x", {"x": False, "y": True}, True),
        ("=~", "x|y", {"x": True, "xy": False, "y": True}, False),
        ("=~", ".*", {"anything": True}, True),
        ("!~", "x.*", {"xa": False, "ax": True}, True),
    ],
)
def test_matchers_are_anchored_and_handle_missing_labels(op, value, present, absent_matches) -> None:
    m = Matcher("l", MatchOp(op), value)
    for v, want in present.items():
        assert m.matches(v) is want
    assert m.matches_empty() is absent_matches


def test_bad_regex_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        Matcher("a", MatchOp.RE, "(")


def test_parse_label_set_round_trips_format_labels() -> None:
    labels = labels_from({"app": 'a"b\\c\nd', "z": "1", "k8s.io": "x"})
    assert parse_label_set(format_labels(labels)) == labels
    assert parse_label_set("{}") == ()
    assert parse_label_set(' { a = "1" , b="2" } ') == (("a", "1"), ("b", "2"))
    for bad in ['a="1"', '{a="1" b="2"}', "{a=1}", '{a="1", a="2"}', '{="x"}']:
        with pytest.raises(ValueError):
            parse_label_set(bad)


def test_stale_nan_is_recognised_only_by_its_bits() -> None:
    assert math.isnan(STALE_NAN) and is_stale_nan(STALE_NAN)
    assert not is_stale_nan(float("nan"))
    assert not is_stale_nan(1.0)
