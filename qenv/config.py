"""Where configuration files live and how qenv reads them: one YAML dialect for all.

Every YAML file of qenv (network scenarios, QPU specs, workloads, QPU scenarios) is
found and read here:

* :func:`config_dir`: ``$QENV_CONFIG_DIR`` if set, else the repository's ``configs/``;
* :func:`resolve`: a bare name (no ``/`` or ``\\``, no ``.yaml``/``.yml`` suffix) is
  ``<config dir>/<kind>/<name>.yaml``; anything else is a path;
* :func:`read_yaml`: a safe loader that rejects duplicate keys (naming both lines) and
  reads YAML 1.2 floats such as ``1e-3`` (which YAML 1.1 reads as a string); syntax
  errors carry the file, line and column.

Light on purpose (pyyaml only), so that hardware and task modules can use it without
importing the network model.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Final

import yaml

__all__ = [
    "CONFIG_DIR_ENV",
    "YAML_SUFFIXES",
    "YamlLoader",
    "config_dir",
    "config_names",
    "display_path",
    "read_yaml",
    "resolve",
]

#: Environment variable that replaces the repository's ``configs/`` directory.
CONFIG_DIR_ENV: Final = "QENV_CONFIG_DIR"
_REPO_CONFIG_DIR: Final = Path(__file__).resolve().parents[1] / "configs"
YAML_SUFFIXES: Final = (".yaml", ".yml")


def config_dir() -> Path:
    """``$QENV_CONFIG_DIR`` if set, else the repository's ``configs/`` directory."""
    env = os.environ.get(CONFIG_DIR_ENV)
    return Path(env) if env else _REPO_CONFIG_DIR


def config_names(kind: str) -> tuple[str, ...]:
    """Sorted names of the ``*.yaml`` files in ``<config dir>/<kind>/`` (now)."""
    directory = config_dir() / kind
    if not directory.is_dir():
        return ()
    return tuple(sorted(p.stem for p in directory.glob("*.yaml") if p.is_file()))


def resolve(name_or_path: str | os.PathLike[str], kind: str) -> tuple[str, Path]:
    """``(name, path)`` of a bare name in ``<config dir>/<kind>/`` or of a path."""
    if isinstance(name_or_path, str):
        bare = "/" not in name_or_path and "\\" not in name_or_path
        if bare and Path(name_or_path).suffix.lower() not in YAML_SUFFIXES:
            return name_or_path, config_dir() / kind / f"{name_or_path}.yaml"
    path = Path(os.fspath(name_or_path))
    return path.stem, path


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            pass
    return str(path)


class YamlLoader(yaml.SafeLoader):
    """Safe loader that rejects duplicate keys and reads YAML 1.2 floats like ``1e-3``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_yaml(path: Path, what: str, error: Callable[[str], Exception]) -> object:
    """The document in ``path``, or ``error(message)`` raised.

    Args:
        path: the file.
        what: what the file is, for messages ("scenario file", "QPU file", ...).
        error: builds the exception from a message without the file name (the caller
            adds it, each error class has its own way of showing where).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"cannot read {what}: {err}") from err
    try:
        return yaml.load(text, Loader=YamlLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = err.problem or err.context or type(err).__name__
        raise error(f"{where}invalid YAML: {problem}") from err
    except yaml.YAMLError as err:
        raise error(f"invalid YAML: {err}") from err
