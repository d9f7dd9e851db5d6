"""Prometheus' lexer test table (`promql/parser/lex_test.go`), transcribed to `lex_cases.json`:
each input's tokens (kind, character offset, text), or that lexing fails. The series
description dialect of promqltest files is not PromQL and is left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from heron.promql.syntax.lexer import T, Token, tokenize

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "lex_cases.json").read_text())["cases"]


def test_table_is_transcribed() -> None:
    assert len(CASES) >= 140
    assert sum(1 for c in CASES if c.get("fail")) >= 20


@pytest.mark.parametrize("case", CASES, ids=[f"{c['group']}:{c['input'][:50]}" for c in CASES])
def test_lexes_like_prometheus(case: dict[str, Any]) -> None:
    tokens = tokenize(case["input"])
    if case.get("fail"):
        assert tokens[-1].kind is T.ERROR
        return
    assert tokens[-1] == Token(T.EOF, len(case["input"]), ""), tokens[-1]
    got = [[t.kind.name, t.pos, t.val] for t in tokens[:-1]]
    assert got == case["tokens"]


@pytest.mark.parametrize(
    ("text", "desc"),
    [
        ("foo", 'identifier "foo"'),
        ("a:b", 'metric identifier "a:b"'),
        ("*", "<op:*>"),
        ("and", "<op:and>"),
        ("sum", "<aggr:sum>"),
        ("by", "<by>"),
        ("1", 'number "1"'),
        ("5m", 'duration "5m"'),
        ('"abcdefghijkl"', 'string "\\"abcdefghi"...'),
        ("(", '"("'),
    ],
)
def test_token_descriptions(text: str, desc: str) -> None:
    """What "unexpected <token>" messages print, as Prometheus' `Item.desc()`."""
    assert tokenize(text)[0].desc() == desc
