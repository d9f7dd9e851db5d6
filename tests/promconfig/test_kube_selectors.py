"""Kubernetes label and field selector syntax as client-go parses it (kube_selectors.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from heron.promconfig.kubeselectors import check_field_selector, check_label_selector

CASES = yaml.safe_load((Path(__file__).parent / "kube_selectors.yaml").read_text())


@pytest.mark.parametrize("text", CASES["label"]["good"])
def test_good_label_selector(text: str) -> None:
    check_label_selector(text)


@pytest.mark.parametrize("text", CASES["label"]["bad"])
def test_bad_label_selector(text: str) -> None:
    with pytest.raises(ValueError, match="label"):
        check_label_selector(text)


@pytest.mark.parametrize("text", CASES["field"]["good"])
def test_good_field_selector(text: str) -> None:
    check_field_selector(text)


@pytest.mark.parametrize("text", CASES["field"]["bad"])
def test_bad_field_selector(text: str) -> None:
    with pytest.raises(ValueError, match="field selector"):
        check_field_selector(text)
