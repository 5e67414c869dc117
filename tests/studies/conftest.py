"""Fixtures shared by the studies tests."""

import pytest
from search_common import SPEC

from siamese_mnist.studies.search.spec import load_spec


@pytest.fixture
def spec(tmp_path):
    (tmp_path / "search.yaml").write_text(SPEC)
    return load_spec(tmp_path / "search.yaml")
