"""Load `configs/*.yaml` into typed pydantic models at the edge."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)

# The project's configs/ folder; ANNOTATE_CONFIG_DIR points elsewhere (tests, deployments).
CONFIG_DIR = Path(os.environ.get("ANNOTATE_CONFIG_DIR", Path(__file__).resolve().parent.parent / "configs"))


def read_yaml(path: str | Path) -> dict:
    """Parse one YAML file into a dict, with a one-line error naming the file."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = CONFIG_DIR / path
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load(path: str | Path, model: type[M], **overrides) -> M:
    """Read a YAML config into `model`, applying keyword overrides on top."""
    data = {**read_yaml(path), **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


@lru_cache(maxsize=None)
def cached_yaml(name: str) -> dict:
    """A config file read once per process (lexicons, alias tables)."""
    return read_yaml(name)
