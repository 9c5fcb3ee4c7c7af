"""Where settings, models and project files are found, and `configs/*.yaml` loaded into typed pydantic models.

Settings: the defaults ship inside the package (`annotate/configs/`, the repository's `configs/`), and a
folder given by `set_config_dir` (`--config-dir`), `ANNOTATE_CONFIG_DIR` or a `configs/` folder in the working
directory overrides them file by file. Models: `--model`, `ANNOTATE_MODEL_DIR`, the checkout's `models/` when the
package runs from one, else a per-user folder (`~/.cache/annotate/models`). Paths in the configs (gold labels,
corpus, datasets) are relative to the project: the checkout, else the working directory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound=BaseModel)

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_DIR = PACKAGE_DIR / "configs"
_override: Path | None = None
_caches: list = []


def cached(fn):
    """`lru_cache` for values built from config files, cleared when the config folder changes."""
    wrapped = lru_cache(maxsize=None)(fn)
    _caches.append(wrapped)
    return wrapped


def checkout_root() -> Path | None:
    """The repository the package runs from (an editable install or the source tree), or None for an installed wheel."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "configs").is_dir() else None


def project_root() -> Path:
    """What relative paths in the configs are relative to: the checkout, else the working directory."""
    return checkout_root() or Path.cwd()


def resolve(path: str | Path | None) -> Path | None:
    """A config path: absolute as is, else relative to the project."""
    if path is None:
        return None
    p = Path(path)
    return p if p.is_absolute() else project_root() / p


def set_config_dir(path: str | Path | None) -> None:
    """Use `path` to override the default settings file by file (the CLI's `--config-dir`)."""
    global _override
    _override = Path(path) if path else None
    for fn in _caches:
        fn.cache_clear()


def config_dirs() -> list[Path]:
    """The folders a config file name is looked up in, first match wins."""
    dirs = [_override, Path(os.environ["ANNOTATE_CONFIG_DIR"]) if os.environ.get("ANNOTATE_CONFIG_DIR") else None,
            Path.cwd() / "configs", DEFAULT_CONFIG_DIR]
    return [d for d in dirs if d is not None]


def config_path(name: str | Path) -> Path:
    """The file a config name or path refers to (an existing path as given, else the first folder that has it)."""
    path = Path(name)
    if path.is_absolute() or path.exists() and path.is_file():
        return path
    for d in config_dirs():
        if (d / path).is_file():
            return d / path
    return DEFAULT_CONFIG_DIR / path


def package_file(name: str) -> Path:
    """A file shipped with the package (the Label Studio label config)."""
    return PACKAGE_DIR / name


def models_dir() -> Path:
    """Where models are written and looked for: the checkout's `models/`, else `~/.cache/annotate/models`."""
    root = checkout_root()
    if root is not None:
        return root / "models"
    return Path(os.environ.get("ANNOTATE_CACHE_DIR", Path.home() / ".cache" / "annotate")) / "models"


def model_dir(explicit: str | Path | None = None, name: str = "annotate-minilm") -> Path:
    """The fine-tuned model to use: `explicit`, `ANNOTATE_MODEL_DIR`, else `<models_dir>/<name>`."""
    if explicit:
        return Path(explicit)
    if os.environ.get("ANNOTATE_MODEL_DIR"):
        return Path(os.environ["ANNOTATE_MODEL_DIR"])
    return models_dir() / name


def read_yaml(path: str | Path) -> dict:
    """Parse one YAML file into a dict, with a one-line error naming the file."""
    path = config_path(path)
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
        raise ConfigError(f"{config_path(path)}: {where}: {first['msg']}") from None


@cached
def cached_yaml(name: str) -> dict:
    """A config file read once per process (lexicons, alias tables)."""
    return read_yaml(name)


def config_version() -> str:
    """A short hash of the settings in effect (every config file, as found), for `annotate --version`."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(p.name for p in DEFAULT_CONFIG_DIR.glob("*.yaml")):
        h.update(f.encode() + config_path(f).read_bytes())
    return h.hexdigest()[:12]
