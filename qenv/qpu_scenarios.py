"""QPU dispatch scenarios: a fleet, a workload, gateways and timing from a YAML file.

A scenario is one YAML file in ``<config dir>/qpu_scenarios/`` (shipped: ``default``,
DESIGN.md §4's four gateways and six QPUs, and ``small``, a fast three-QPU instance for
tests and examples) or anywhere else::

    sc = load_qpu_scenario("default", seed=0)
    sc = load_qpu_scenario("default", 0, **{"gateways": 8, "drift.sigma": 0.0})

Schema (``fleet`` and ``workload`` are required)::

    description: one line
    fleet: [ibm_nairobi, ionq_aria, ...]   # QPU names in <config dir>/qpus/ or paths
    workload: default                      # a name in <config dir>/workloads/ or a path
    gateways: 4                            # agents, each with its own arrival stream
    dt: 0.1                                # slot length, s
    drift:                                 # qenv.hardware.CalibrationDrift, per QPU
      sigma: 0.6                           # 1/sqrt(hour); 0 = static noise
      reversion: 1.0                       # 1/hour
      recalibration_period_s: 60           # agents see the noise as of the last one
      interval_s: 10                       # the true noise moves in steps of this length
    env: {horizon: 1000}                   # environment defaults (horizon in slots)

Paths inside the file are relative to the file. Dotted-key overrides and error messages
(file, then key path) work as in :mod:`qenv.scenarios`. ``seed`` builds the workload's
circuit library (the only random draw of a scenario; tasks come per episode).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from qenv.checks import check_positive_int
from qenv.config import YAML_SUFFIXES, config_dir, config_names, display_path, resolve
from qenv.hardware import QPUSpec, QPUSpecError, load_qpu
from qenv.scenarios import (
    ScenarioError,
    _apply_overrides,
    _integer,
    _Invalid,
    _mapping,
    _number,
    _read_yaml,
    _scenario_error,
    _string,
)
from qenv.tasks.workload import Workload, WorkloadError, load_workload

__all__ = ["QPUScenario", "load_qpu_scenario", "qpu_scenario_names"]

_TOP: Final = ("description", "fleet", "workload", "gateways", "dt", "drift", "env")
_DRIFT: Final = ("sigma", "reversion", "recalibration_period_s", "interval_s")
_ENV: Final = ("horizon",)


@dataclass(frozen=True)
class DriftConfig:
    """Calibration drift of every QPU of a scenario (see :class:`CalibrationDrift`)."""

    sigma: float = 0.6
    reversion: float = 1.0
    recalibration_period_s: float = 60.0
    interval_s: float = 10.0


@dataclass(frozen=True)
class QPUScenario:
    """A built scenario: everything ``QPUAllocation-v0`` needs."""

    name: str
    fleet: tuple[QPUSpec, ...]
    workload: Workload
    gateways: int = 4
    dt: float = 0.1
    drift: DriftConfig = field(default_factory=DriftConfig)
    env: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def qpu_scenario_names() -> tuple[str, ...]:
    """Sorted names of the ``*.yaml`` files in ``<config dir>/qpu_scenarios/``."""
    return config_names("qpu_scenarios")


def _positive(value: object, path: tuple[str | int, ...], *, zero: bool = False) -> float:
    x = float(_number(value, path))
    if not (x >= 0 if zero else x > 0) or x != x or x == float("inf"):
        raise _Invalid(path, f"must be a finite number {'>=' if zero else '>'} 0, got {value!r}")
    return x


def _member(name: object, path: tuple[str | int, ...], yaml_dir: Path) -> Path | str:
    """A bare name as it is (looked up by the loader), a path relative to the YAML file."""
    text = _string(name, path)
    if "/" in text or "\\" in text or text.lower().endswith(YAML_SUFFIXES):
        where = Path(text)
        return where if where.is_absolute() else yaml_dir / where
    return text


def load_qpu_scenario(
    name_or_path: str | os.PathLike[str], seed: int = 0, **overrides: Any
) -> QPUScenario:
    """Load, validate and build a QPU dispatch scenario (module docstring for the schema).

    Raises:
        ScenarioError: missing file (listing the available names), invalid YAML (with the
            line), or an invalid key or value (with the file and key path); errors of a
            QPU or workload file it names are reported with that file too.
    """
    seed = check_positive_int("seed", seed, 0)
    name, path = resolve(name_or_path, "qpu_scenarios")
    shown = display_path(path)
    if not path.is_file():
        available = ", ".join(qpu_scenario_names()) or "none"
        raise ScenarioError(
            f"{shown}: scenario file not found; available QPU scenarios: {available} "
            f"(in {display_path(config_dir() / 'qpu_scenarios')}), or pass a path to a YAML file"
        )
    data = _read_yaml(path, shown)
    applied: dict[tuple[str | int, ...], str] = {}
    try:
        applied = _apply_overrides(data, overrides)
        top = _mapping(data, (), _TOP, required=("fleet", "workload"))
        description = _string(top.get("description", ""), ("description",))
        fleet_raw = top["fleet"]
        if not isinstance(fleet_raw, list) or not fleet_raw:
            raise _Invalid(("fleet",), "must be a non-empty list of QPU names or paths")
        fleet: list[QPUSpec] = []
        for i, item in enumerate(fleet_raw):
            ref = _member(item, ("fleet", i), path.parent)
            try:
                fleet.append(load_qpu(ref))
            except QPUSpecError as err:
                raise _Invalid(("fleet", i), str(err)) from err
        names = [q.name for q in fleet]
        if len(set(names)) != len(names):
            raise _Invalid(("fleet",), f"QPU names must be distinct, got {names}")
        ref = _member(top["workload"], ("workload",), path.parent)
        try:
            workload = load_workload(ref, seed)
        except WorkloadError as err:
            raise _Invalid(("workload",), str(err)) from err
        gateways = _integer(top.get("gateways", 4), ("gateways",))
        if gateways < 1:
            raise _Invalid(("gateways",), f"must be >= 1, got {gateways}")
        if workload.n_gateways is not None and workload.n_gateways != gateways:
            raise _Invalid(
                ("gateways",),
                f"the workload has arrivals for {workload.n_gateways} gateways, not {gateways}",
            )
        dt = _positive(top.get("dt", 0.1), ("dt",))
        drift_raw = _mapping(top.get("drift", {}), ("drift",), _DRIFT)
        defaults = DriftConfig()
        drift = DriftConfig(
            sigma=_positive(drift_raw.get("sigma", defaults.sigma), ("drift", "sigma"), zero=True),
            reversion=_positive(
                drift_raw.get("reversion", defaults.reversion), ("drift", "reversion"), zero=True
            ),
            recalibration_period_s=_positive(
                drift_raw.get("recalibration_period_s", defaults.recalibration_period_s),
                ("drift", "recalibration_period_s"),
            ),
            interval_s=_positive(
                drift_raw.get("interval_s", defaults.interval_s), ("drift", "interval_s")
            ),
        )
        env = dict(_mapping(top.get("env", {}), ("env",), _ENV))
        if "horizon" in env:
            horizon = _integer(env["horizon"], ("env", "horizon"))
            if horizon < 1:
                raise _Invalid(("env", "horizon"), f"must be >= 1, got {horizon}")
    except _Invalid as err:
        raise _scenario_error(shown, err, applied, overrides) from err
    return QPUScenario(name, tuple(fleet), workload, gateways, dt, drift, env, description)
