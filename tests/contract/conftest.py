"""Fixtures for the contract tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.contract.schemas import RELEASED_SUBDIR, list_releases
from hub.paths import SCHEMAS_DIR


@pytest.fixture
def schema_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Writable copies ``(released, current)``: the repository's latest release
    (``schemas/released/<N>/``) and its current schemas (without ``released/``)."""
    released = tmp_path / "released"
    current = tmp_path / "current"
    shutil.copytree(list_releases(SCHEMAS_DIR)[-1].directory, released)
    shutil.copytree(SCHEMAS_DIR, current, ignore=shutil.ignore_patterns(RELEASED_SUBDIR, "*.md"))
    return released, current


@pytest.fixture
def schemas_dir(tmp_path: Path) -> Path:
    """A writable copy of the repository's ``schemas/``, with every release and CHANGES.md."""
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, copy)
    return copy
