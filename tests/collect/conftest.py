"""The fake Kubernetes API server the collectors' tests watch through the real lightkube
client: not started (a test may start it late, to see a client wait for it), and stopped
after the test either way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heron.kubefake import FakeKubeAPI


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    api = FakeKubeAPI()
    yield api
    api.stop()
