"""Reading the YAML files of ``deploy/`` with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import yaml

from hub.errors import ConfigError


def read_yaml(path: Path, what: str) -> dict:
    """The mapping in ``path``; ``what`` names the file for people ("agency list")."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} {path} must be a mapping at the top level")
    return raw
