"""Fixtures for the loader tests: the shared folder of files that break naive loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

BADINPUTS = Path(__file__).resolve().parents[2].parent / "shared" / "badinputs"


@pytest.fixture
def badinputs() -> Path:
    """``shared/badinputs`` beside the checkout; tests that need it skip where it is absent."""
    if not BADINPUTS.is_dir():
        pytest.skip(f"{BADINPUTS} not available")
    return BADINPUTS
