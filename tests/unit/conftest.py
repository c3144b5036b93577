"""Unit tests check limits and messages exactly: waits are not scaled by the machine's load
here (``tests/unit/test_patience.py`` tests that scaling itself)."""

import pytest

from harness import patience


@pytest.fixture(autouse=True)
def _fixed_timeouts(monkeypatch):
    monkeypatch.setenv(patience.ENV_FIXED, "1")
