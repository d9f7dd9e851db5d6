"""label_replace and label_join: Prometheus' cases, name handling, merging and errors."""

from __future__ import annotations

import numpy as np
import pytest

from heron.model import labels_from
from heron.promql.functions import FUNCTIONS
from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, ExecutionError, String, Vector


def vec(*series: dict[str, str], steps: int = 1, present: list[list[bool]] | None = None) -> Vector:
    labels = [labels_from(s) for s in series]
    values = np.arange(len(series) * steps, dtype=np.float64).reshape(len(series), steps)
    mask = np.ones(values.shape, dtype=bool) if present is None else np.asarray(present)
    return Vector(labels, values, mask)


def run(name: str, v: Vector, *strings: str) -> Vector:
    ctx = EvalContext(np.arange(v.steps, dtype=np.int64))
    out = FUNCTIONS[name](Call(name, ()), [v, *(String(s) for s in strings)], ctx)
    assert isinstance(out, Vector)
    return out


TESTMETRIC = (
    {"__name__": "testmetric", "src": "source-value-10", "dst": "original-destination-value"},
    {"__name__": "testmetric", "src": "source-value-20", "dst": "original-destination-value"},
)


@pytest.mark.parametrize(
    ("args", "dsts"),
    [
        (
            ("dst", "destination-value-$1", "src", "source-value-(.*)"),
            ["destination-value-10", "destination-value-20"],
        ),
        (("dst", "destination-value-$1", "src", "value-(.*)"), ["original-destination-value"] * 2),
        (("dst", "$1-value-$2", "src", "(.*)-value-(.*)"), ["source-value-10", "source-value-20"]),
        (("dst", "value-$1", "nonexistent-src", "source-value-(.*)"), ["original-destination-value"] * 2),
        (("dst", "value-$1", "nonexistent-src", "(.*)"), ["value-", "value-"]),
        (("dst", "value-$1", "src", "non-matching-regex"), ["original-destination-value"] * 2),
        (("dst", "", "dst", ".*"), [None, None]),
        (("dst", "${1}x$1x$$", "src", "source-value-(.*)"), ["10x$", "20x$"]),
        (("dst", "${num}", "src", "source-value-(?P<num>.*)"), ["10", "20"]),
    ],
)
def test_label_replace_cases(args: tuple[str, ...], dsts: list[str | None]) -> None:
    out = run("label_replace", vec(*TESTMETRIC), *args)
    got = [dict(ls).get("dst") for ls in out.labels]
    assert got == dsts
    assert all(dict(ls)["src"].startswith("source-value-") for ls in out.labels)


def test_label_replace_regex_matches_newlines_and_whole_value() -> None:
    v = vec({"src": "a\nb"})
    assert dict(run("label_replace", v, "dst", "$1", "src", "(.*)").labels[0])["dst"] == "a\nb"
    assert "dst" not in dict(run("label_replace", v, "dst", "$1", "src", "a").labels[0])


def test_label_replace_errors_in_prometheus_words() -> None:
    with pytest.raises(ExecutionError, match=r"^invalid regular expression in label_replace\(\): \(\.\*$"):
        run("label_replace", vec(*TESTMETRIC), "dst", "value-$1", "src", "(.*")
    with pytest.raises(ExecutionError, match=r"^invalid destination label name in label_replace\(\): "):
        run("label_replace", vec(*TESTMETRIC), "\udcff", "", "src", "(.*)")
    with pytest.raises(ExecutionError, match=r"^invalid destination label name in label_replace\(\): $"):
        run("label_replace", vec(*TESTMETRIC), "", "", "src", "(.*)")
    with pytest.raises(ExecutionError, match="^vector cannot contain metrics with the same labelset$"):
        run("label_replace", vec(*TESTMETRIC), "src", "", "", "")


def test_label_replace_errors_come_before_any_row() -> None:
    with pytest.raises(ExecutionError):
        run("label_replace", Vector.empty(1), "dst", "x", "src", "(")


def test_utf8_label_names_are_valid() -> None:
    out = run("label_replace", vec({"src": "v"}), "ünïcode.name", "$1", "src", "(.*)")
    assert dict(out.labels[0])["ünïcode.name"] == "v"


def test_writing_the_name_cancels_its_removal() -> None:
    v = vec({"__name__": "rate_input", "job": "a"}, {"__name__": "other", "job": "b"})
    v.drop_name = np.array([True, True])
    out = run("label_replace", v, "__name__", "renamed_$1", "job", "(a)")
    assert dict(out.labels[0])["__name__"] == "renamed_a"
    assert out.drop_name is not None and out.drop_name.tolist() == [False, True]
    # A to-be-dropped name can still be read.
    out = run("label_replace", v, "n", "$1", "__name__", "(.+)")
    assert [dict(ls)["n"] for ls in out.labels] == ["rate_input", "other"]
    assert out.drop_name is not None and out.drop_name.tolist() == [True, True]


def test_same_labelset_merges_when_steps_do_not_overlap() -> None:
    v = vec({"idx": "0"}, {"idx": "1"}, steps=2, present=[[True, False], [False, True]])
    out = run("label_replace", v, "idx", "replaced", "idx", ".*")
    assert out.labels == [(("idx", "replaced"),)]
    assert out.present.tolist() == [[True, True]]
    assert out.values.tolist() == [[0.0, 3.0]]
    joined = run("label_join", v, "idx", ",", "label", "label")
    assert joined.labels == [(("idx", ","),)] and joined.present.all()


def test_same_labelset_at_the_same_step_fails() -> None:
    v = vec({"idx": "0"}, {"idx": "1"}, steps=2, present=[[True, True], [False, True]])
    with pytest.raises(ExecutionError, match="same labelset"):
        run("label_replace", v, "idx", "same", "idx", ".*")
    with pytest.raises(ExecutionError, match="same labelset"):
        run("label_join", v, "idx", ",", "label", "label")


def test_label_join_cases() -> None:
    v = vec(
        {"__name__": "testmetric", "src": "a", "src1": "b", "src2": "c", "dst": "original-destination-value"},
        {"__name__": "testmetric", "src": "d", "src1": "e", "src2": "f", "dst": "original-destination-value"},
    )
    dst = lambda out: [dict(ls).get("dst") for ls in out.labels]  # noqa: E731
    assert dst(run("label_join", v, "dst", "-", "src", "src1", "src2")) == ["a-b-c", "d-e-f"]
    assert dst(run("label_join", v, "dst", "-", "src", "src3", "src1")) == ["a--b", "d--e"]
    assert dst(run("label_join", v, "dst", "", "emptysrc", "emptysrc1", "emptysrc2")) == [None, None]
    assert dst(run("label_join", v, "dst", ", ")) == [None, None]
    fresh = vec({"src": "foo", "src1": "bar", "src2": "foobar"})
    assert dst(run("label_join", fresh, "dst", ", ", "src", "src1", "src2")) == ["foo, bar, foobar"]


def test_label_join_duplicate_and_name_errors() -> None:
    dup = vec({"__name__": "dup", "label": "a", "this": "a"}, {"__name__": "dup", "label": "b", "this": "a"})
    with pytest.raises(ExecutionError, match="^vector cannot contain metrics with the same labelset$"):
        run("label_join", dup, "label", "", "this")
    with pytest.raises(ExecutionError, match=r"^invalid source label name in label_join\(\): $"):
        run("label_join", dup, "dst", "", "this", "")
    with pytest.raises(ExecutionError, match=r"^invalid destination label name in label_join\(\): "):
        run("label_join", dup, "\udcff", "", "this")


def test_label_functions_keep_values_and_presence() -> None:
    v = vec({"a": "1"}, {"a": "2"}, steps=3, present=[[True, False, True], [True, True, False]])
    out = run("label_join", v, "b", "-", "a", "a")
    assert out.values.tolist() == v.values.tolist()
    assert out.present.tolist() == v.present.tolist()
    assert [dict(ls)["b"] for ls in out.labels] == ["1-1", "2-2"]
