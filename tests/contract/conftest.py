"""Fixtures for the contract tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.contract.schemas import RELEASED_SUBDIR
from hub.paths import SCHEMAS_DIR


@pytest.fixture
def schema_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Writable copies ``(released, current)`` of the repository's schema directories."""
    released = tmp_path / "released"
    current = tmp_path / "current"
    shutil.copytree(SCHEMAS_DIR / RELEASED_SUBDIR, released)
    shutil.copytree(SCHEMAS_DIR, current, ignore=shutil.ignore_patterns(RELEASED_SUBDIR, "*.md"))
    return released, current
