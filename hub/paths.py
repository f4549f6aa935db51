"""Where the project's files live (the hub runs from a checkout of the repository)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
DEPLOY_DIR = PROJECT_ROOT / "deploy"
KAFKA_DEPLOY_DIR = DEPLOY_DIR / "kafka"
