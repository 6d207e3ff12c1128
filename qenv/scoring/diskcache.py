"""A small on-disk cache of the expensive per-circuit results (sandbox runs, ΔRepro).

Each entry is one JSON file named by the SHA-256 of its key (kind, :data:`VERSION`, the
qiskit and qutip versions, and the caller's key: circuit key, device fingerprint,
limits), written atomically (a temporary file, then ``os.replace``), so concurrent
processes (pytest-xdist workers, RLlib env runners) share it safely. Directory:
``$QENV_CACHE_DIR/scoring`` if set, else ``~/.cache/qenv/scoring``. ``QENV_SCORING_CACHE=0``
turns it off (every result is recomputed once per process, as without it). A file that
cannot be read or parsed is a miss. Bump :data:`VERSION` when a cached computation
changes meaning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Final

__all__ = ["VERSION", "cache_dir", "enabled", "get", "put"]

VERSION: Final = 1


def enabled() -> bool:
    return os.environ.get("QENV_SCORING_CACHE", "1").strip() not in ("0", "false", "no", "")


def cache_dir() -> Path:
    base = os.environ.get("QENV_CACHE_DIR")
    root = Path(base) if base else Path.home() / ".cache" / "qenv"
    return root / "scoring"


def _versions() -> tuple[str, ...]:
    out = []
    for dist in ("qiskit", "qutip", "numpy"):
        try:
            out.append(metadata.version(dist))
        except metadata.PackageNotFoundError:
            out.append("-")
    return tuple(out)


_VERSIONS = _versions()


def _path(kind: str, key: Any) -> Path:
    text = json.dumps([kind, VERSION, _VERSIONS, key], sort_keys=True, default=repr)
    return cache_dir() / f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:40]}.json"


def get(kind: str, key: Any) -> dict[str, Any] | None:
    """The cached mapping of (kind, key), or None."""
    if not enabled():
        return None
    try:
        data = json.loads(_path(kind, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def put(kind: str, key: Any, value: dict[str, Any]) -> None:
    """Store ``value`` (JSON-able) for (kind, key); silently skipped if the disk refuses."""
    if not enabled():
        return
    path = _path(kind, key)
    with contextlib.suppress(OSError, TypeError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(value, fh, allow_nan=True)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
