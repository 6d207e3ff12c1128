"""⑥ Expert feedback: a JSONL file of preferences or overrides updates the AHP matrix.

``qenv feedback --file prefs.jsonl [--matrix configs/scoring/ahp.yaml] [--out new.yaml]
[--weights-out scoring.yaml]`` reads the pairwise matrix (:func:`load_matrix`), applies
each line of the file in order (:func:`apply_feedback`), prints the invalid lines with
their line numbers, and the weights and consistency ratio before and after.

JSONL schema: one JSON object per line; blank lines and lines starting with ``#`` are
ignored. Criteria are the six terms of V: ``logic``, ``novelty``, ``impact``, ``repro``,
``meta``, ``qnc``.

* Preference, "a over b by strength s"::

      {"type": "preference", "a": "qnc", "b": "novelty", "strength": 5}

  sets matrix[a][b] = s and matrix[b][a] = 1/s. ``strength`` is a number or a fraction
  string (``"1/3"``: a is moderately *less* important) on Saaty's scale, 1/9 ≤ s ≤ 9.
  With ``"combine": "geometric"`` the judgment is merged with the current entry by
  their geometric mean (the aggregation of individual judgments of Aczél & Saaty 1983)
  instead of replacing it.
* Override of one matrix entry::

      {"type": "override", "row": "meta", "col": "qnc", "value": "1/2"}

  sets matrix[row][col] = value and its reciprocal; same range.

A line that is not valid JSON, has an unknown ``type`` or criterion, compares a
criterion with itself, carries extra or missing keys, or a value outside [1/9, 9] is
reported as ``line N: reason`` and skipped: it changes nothing, and the other lines still
apply. Invalid lines do not stop the command (exit status 0); an unreadable file or
matrix does (a ``ValueError``).

Matrix YAML (``configs/scoring/ahp.yaml``)::

    criteria: [logic, novelty, impact, repro, meta, qnc]
    matrix:               # rows in the order of criteria; numbers or "a/b" strings
      - [1, 3, 2, 2, 1/2, 1/2]
      ...
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import yaml

from qenv.scoring.fusion import ahp_weights, check_pairwise, parse_judgment
from qenv.scoring.params import WEIGHT_NAMES

__all__ = [
    "FeedbackResult",
    "apply_feedback",
    "load_matrix",
    "read_feedback",
    "save_matrix",
]

FloatArray = npt.NDArray[np.float64]

_MIN, _MAX = 1.0 / 9.0, 9.0
_KEYS: Final = {
    "preference": ({"type", "a", "b", "strength"}, {"combine"}),
    "override": ({"type", "row", "col", "value"}, set()),
}


def load_matrix(path: str | os.PathLike[str]) -> FloatArray:
    """The pairwise matrix of a YAML file, rows in :data:`~qenv.scoring.WEIGHT_NAMES` order.

    ``criteria`` may list the six terms in another order; the matrix is reordered.
    """
    from qenv.config import read_yaml

    file = Path(os.fspath(path))
    if not file.is_file():
        raise ValueError(f"--matrix: no such file {str(file)!r}")
    data = read_yaml(file, "AHP matrix", lambda m: ValueError(f"{file}: {m}"))
    if not isinstance(data, dict) or set(data) != {"criteria", "matrix"}:
        raise ValueError(f"{file}: expected the keys 'criteria' and 'matrix'")
    crit = data["criteria"]
    if not isinstance(crit, list) or sorted(map(str, crit)) != sorted(WEIGHT_NAMES):
        raise ValueError(f"{file}: criteria: expected the six terms {list(WEIGHT_NAMES)}")
    rows = data["matrix"]
    n = len(crit)
    if not isinstance(rows, list) or len(rows) != n:
        raise ValueError(f"{file}: matrix: expected {n} rows")
    a = np.ones((n, n))
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != n:
            raise ValueError(f"{file}: matrix[{i}]: expected {n} entries")
        for j, value in enumerate(row):
            a[i, j] = parse_judgment(value, f"{file}: matrix[{i}][{j}]")
    try:
        check_pairwise(a, rtol=1e-3)
    except ValueError as exc:
        raise ValueError(f"{file}: {exc}") from exc
    order = [list(crit).index(k) for k in WEIGHT_NAMES]
    out: FloatArray = a[np.ix_(order, order)]
    return out


def _fraction(x: float) -> str | float:
    """1/3 as "1/3", 2.0 as 2.0; other values as floats."""
    if x >= 1:
        return round(x, 6) if abs(x - round(x)) > 1e-9 else float(round(x))
    inv = 1.0 / x
    if abs(inv - round(inv)) < 1e-9:
        return f"1/{round(inv)}"
    frac = Fraction(x).limit_denominator(100)
    return f"{frac.numerator}/{frac.denominator}" if abs(float(frac) - x) < 1e-9 else round(x, 6)


def save_matrix(matrix: npt.ArrayLike, path: str | os.PathLike[str], header: str = "") -> Path:
    """Write a pairwise matrix YAML (:func:`load_matrix`'s schema)."""
    a = check_pairwise(matrix, rtol=1e-3)
    out = Path(os.fspath(path))
    body = {
        "criteria": list(WEIGHT_NAMES),
        "matrix": [[_fraction(float(x)) for x in row] for row in a],
    }
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    out.write_text(text, encoding="utf-8")
    return out


@dataclass
class FeedbackResult:
    """The updated matrix, what was applied, and the lines that were skipped."""

    matrix: FloatArray
    applied: list[tuple[int, str]] = field(default_factory=list)  # (line, description)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def _criterion(obj: dict[str, Any], key: str) -> int:
    name = obj[key]
    if not isinstance(name, str) or name not in WEIGHT_NAMES:
        raise ValueError(f"{key}: unknown criterion {name!r}; criteria: {', '.join(WEIGHT_NAMES)}")
    return WEIGHT_NAMES.index(name)


def _judgment(obj: dict[str, Any], key: str) -> float:
    value = parse_judgment(obj[key], key)
    if not (_MIN - 1e-12 <= value <= _MAX + 1e-12):
        raise ValueError(f"{key}: {obj[key]!r} is outside Saaty's scale [1/9, 9]")
    return value


def _parse_line(text: str) -> tuple[int, int, float, bool, str]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    kind = obj.get("type")
    if kind not in _KEYS:
        raise ValueError(f"type: expected 'preference' or 'override', got {kind!r}")
    required, optional = _KEYS[kind]
    missing = sorted(required - set(obj))
    extra = sorted(set(obj) - required - optional)
    if missing:
        raise ValueError(f"{kind}: missing key(s) {missing}")
    if extra:
        raise ValueError(f"{kind}: unknown key(s) {extra}")
    if kind == "preference":
        i, j = _criterion(obj, "a"), _criterion(obj, "b")
        value = _judgment(obj, "strength")
        combine = obj.get("combine", "replace")
        if combine not in ("replace", "geometric"):
            raise ValueError(f"combine: expected 'replace' or 'geometric', got {combine!r}")
        geometric = combine == "geometric"
        what = f"{obj['a']} over {obj['b']} by {obj['strength']}"
    else:
        i, j = _criterion(obj, "row"), _criterion(obj, "col")
        value = _judgment(obj, "value")
        geometric = False
        what = f"matrix[{obj['row']}][{obj['col']}] = {obj['value']}"
    if i == j:
        raise ValueError(f"a criterion cannot be compared with itself ({WEIGHT_NAMES[i]})")
    return i, j, value, geometric, what


def apply_feedback(matrix: npt.ArrayLike, lines: Iterable[str]) -> FeedbackResult:
    """Apply JSONL feedback ``lines`` (module docstring) to a copy of ``matrix``."""
    a = check_pairwise(matrix, rtol=1e-3).copy()
    result = FeedbackResult(matrix=a)
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            i, j, value, geometric, what = _parse_line(text)
        except ValueError as exc:
            result.errors.append((number, str(exc)))
            continue
        if geometric:
            value = math.sqrt(a[i, j] * value)
            what += f" (geometric mean: {value:.4g})"
        a[i, j] = value
        a[j, i] = 1.0 / value
        result.applied.append((number, what))
    return result


def read_feedback(path: str | os.PathLike[str]) -> list[str]:
    """The lines of a feedback file (``ValueError`` naming it if it cannot be read)."""
    file = Path(os.fspath(path))
    try:
        return file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--file: cannot read {str(file)!r}: {exc}") from exc


def weights_table(
    before: Sequence[float], after: Sequence[float]
) -> list[tuple[str, float, float]]:
    """(criterion, weight before, weight after) rows."""
    return [(k, float(b), float(a)) for k, b, a in zip(WEIGHT_NAMES, before, after, strict=True)]


def summary(matrix_before: FloatArray, result: FeedbackResult) -> dict[str, Any]:
    """Weights and CR before and after (JSON-able)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = ahp_weights(matrix_before, warn=False)
        new = ahp_weights(result.matrix, warn=False)
    return {
        "weights_before": dict(zip(WEIGHT_NAMES, map(float, old.weights), strict=True)),
        "weights_after": dict(zip(WEIGHT_NAMES, map(float, new.weights), strict=True)),
        "cr_before": old.cr,
        "cr_after": new.cr,
        "applied": [{"line": n, "change": w} for n, w in result.applied],
        "invalid": [{"line": n, "reason": r} for n, r in result.errors],
    }
