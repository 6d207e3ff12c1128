"""Network scenarios: a topology, traffic, engine and environment defaults from a YAML file.

A scenario is one YAML file in ``<config dir>/scenarios/`` (shipped: ``dpem``, the
DESIGN.md §2 default, plus ``mesh8``, ``chain5`` and ``surfnet``) or anywhere else::

    sc = load_scenario("dpem", seed=0)                 # configs/scenarios/dpem.yaml
    sc = load_scenario("runs/my_net.yaml", seed=3)     # a path
    sc = load_scenario("dpem", 0, **{"topology.n_nodes": 10, "traffic.temporal.rate": 0.2})

Schema (every section is a mapping; ``topology`` and ``traffic`` are required)::

    description: one line                 # optional, default ""
    dt: 0.01                              # slot length, s (traffic and engine); default 0.01
    topology:
      generator: random_mesh              # random_mesh | waxman | grid | ring | chain | file
      # The generator's keyword arguments (qenv.network.topology), e.g. n_nodes, area_km,
      # k_nearest (random_mesh); alpha, beta (waxman); rows, cols (grid); spacing_km
      # (grid, ring, chain); and for every generator the attributes gen_rate,
      # swap_capacity, memory, t_coh, f0. A range is a 2-element list [low, high]
      # (uniform draws; a tuple in Python). generator: file takes path (relative to
      # this YAML file's directory, or absolute; .gml or .graphml) and
      # load_topology's keywords (default_length_km and the attributes).
    traffic:
      temporal: {kind: poisson, rate: 0.1}  # requests/s per node; kinds:
      #   poisson {rate} | diurnal {mean_rate, amplitude, period_s?, phase?}
      #   | bursty {low_rate, high_rate, p_on, p_off}
      #   | product {factors: [<temporal>, <temporal>, ...]}  (first factor sets the mean)
      spatial: {kind: gravity, sigma: 1.0, exponent: 1.0, distance: none}
      #   or {kind: uniform} (the default); distance: hops | km | none (null = none)
      f_min: [0.5, 0.8]                   # fidelity or [low, high]
      n_pairs: 1                          # int or [low, high]
      deadline_slots: 200                 # int or [low, high]
    engine: {cutoff_slots: 100, swap_prob: 1.0, detector_efficiency: 0.8,
             attenuation_db_per_km: 0.2, swap_burst: 2.0}  # EngineConfig fields but dt
    env: {horizon: 1000, k_paths: 3}      # passed through to the environment as defaults

Omitted keys take the defaults of the Python class they configure (generator,
:class:`~qenv.network.traffic.TrafficModel`, :class:`~qenv.network.engine.EngineConfig`).
``env`` is only checked to be a mapping with string keys.

Lookup: a bare name (a ``str`` without ``/`` or ``\\`` and without a ``.yaml``/``.yml``
suffix) is ``<config dir>/scenarios/<name>.yaml``; the config dir is ``$QENV_CONFIG_DIR``
if set, else the repository's ``configs/``. Anything else (including any
``os.PathLike``) is a path to the file. The scenario's ``name`` is the file stem.

Randomness: ``seed`` seeds one ``np.random.default_rng(seed)`` that makes every draw of
the scenario in a fixed order: the topology (positions, then attributes), then the
gravity masses (lognormal(0, sigma), one per node, drawn once, so the same nodes are
popular in every episode). One seed thus fixes the scenario; the requests of an episode
come from the rng passed to ``traffic.generate``.

Overrides: keyword arguments of :func:`load_scenario` whose names are dotted key paths
replace values of the YAML before anything is validated or built, e.g.
``"topology.n_nodes"``, ``"traffic.temporal.rate"``, ``"dt"``, ``"env.horizon"``, or a
whole section (``"traffic.spatial": {"kind": "uniform"}``). List items are addressed by
index (``"traffic.temporal.factors.0.rate"``). Missing intermediate mappings are created;
a key the schema does not know is an error naming the key and the override.

Errors: every problem is a :class:`ScenarioError` (a ``ValueError``) whose message
starts with the file and the key path, e.g. ``configs/scenarios/x.yaml:
traffic.temporal.kind: unknown kind 'poison' (expected one of bursty, diurnal, poisson,
product)``; YAML syntax errors and duplicate keys give the line and column; a missing
file lists the available scenario names. The loader reads YAML 1.2 floats such as
``1e-3`` as numbers (PyYAML alone would read them as strings).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import numbers
import os
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import shortest_path

from qenv.checks import check_positive_int
from qenv.config import CONFIG_DIR_ENV, config_dir, config_names, read_yaml, resolve
from qenv.config import display_path as _display
from qenv.network.engine import EngineConfig
from qenv.network.topology import GENERATORS, load_topology
from qenv.network.traffic import (
    Bursty,
    Diurnal,
    Gravity,
    Modulated,
    Poisson,
    SpatialModel,
    TemporalProcess,
    TrafficModel,
    Uniform,
)

__all__ = [
    "CONFIG_DIR_ENV",
    "SCENARIOS",
    "NetworkScenario",
    "ScenarioError",
    "config_dir",
    "load_scenario",
    "make_scenario",
    "scenario_names",
]


@dataclass(frozen=True)
class NetworkScenario:
    """A built scenario: everything an environment or ``qenv simulate`` needs."""

    name: str
    graph: nx.Graph
    traffic: TrafficModel
    engine: EngineConfig = field(default_factory=EngineConfig)
    env: dict[str, Any] = field(default_factory=dict)  # default environment kwargs
    description: str = ""


class ScenarioError(ValueError):
    """A scenario file that cannot be found, parsed or validated."""


# --------------------------------------------------------------------------- lookup


def scenario_names() -> tuple[str, ...]:
    """Sorted names of the ``*.yaml`` files in ``<config dir>/scenarios/`` (now)."""
    return config_names("scenarios")


#: Names of the scenarios found at import (see :func:`scenario_names` for a fresh list).
SCENARIOS: Final[tuple[str, ...]] = scenario_names()


def _resolve(name_or_path: str | os.PathLike[str]) -> tuple[str, Path]:
    return resolve(name_or_path, "scenarios")


def _read_yaml(path: Path, shown: str) -> object:
    return read_yaml(path, "scenario file", lambda msg: ScenarioError(f"{shown}: {msg}"))


# --------------------------------------------------------------------------- validation helpers

_Path = tuple[str | int, ...]


class _Invalid(Exception):
    """A validation failure at ``path`` in the YAML document."""

    def __init__(self, path: _Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _format_path(path: _Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _describe(value: object) -> str:
    kinds: dict[type, str] = {
        dict: "a mapping",
        list: "a list",
        tuple: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }
    kind = kinds.get(type(value))
    return f"{value!r} ({kind})" if kind else repr(value)


def _mapping(
    value: object,
    path: _Path,
    allowed: Collection[str] | None = None,
    required: Collection[str] = (),
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"must be a mapping, got {_describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _Invalid(path, f"keys must be strings, got {key!r}")
        if allowed is not None and key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise _Invalid((*path, key), f"unknown key {key!r} (expected one of {expected})")
    for key in required:
        if key not in value:
            raise _Invalid((*path, key), f"missing required key {key!r}")
    return value


def _number(value: object, path: _Path) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Invalid(path, f"must be a number, got {_describe(value)}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _integer(value: object, path: _Path) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _Invalid(path, f"must be an integer, got {_describe(value)}")
    return int(value)


def _string(value: object, path: _Path) -> str:
    if not isinstance(value, str):
        raise _Invalid(path, f"must be a string, got {_describe(value)}")
    return value


def _optional_number(value: object, path: _Path) -> float | None:
    return None if value is None else _number(value, path)


def _range_of(check: Callable[[object, _Path], Any]) -> Callable[[object, _Path], Any]:
    """A checker for a value of ``check``'s type or a ``[low, high]`` pair of them (a tuple)."""

    def checker(value: object, path: _Path) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise _Invalid(
                    path, f"must be a number or a [low, high] list, got a list of {len(value)}"
                )
            return (check(value[0], (*path, 0)), check(value[1], (*path, 1)))
        return check(value, path)

    return checker


_number_or_range = _range_of(_number)
_integer_or_range = _range_of(_integer)


def _phase(value: object, path: _Path) -> Any:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [_number(v, (*path, i)) for i, v in enumerate(value)]
    return _number(value, path)


def _choice(value: object, path: _Path, choices: Collection[str], what: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _Invalid(
            path, f"unknown {what} {value!r} (expected one of {', '.join(sorted(choices))})"
        )
    return value


def _checked(
    data: Mapping[str, Any], path: _Path, types_: Mapping[str, Callable[[object, _Path], Any]]
) -> dict[str, Any]:
    """Each value of ``data`` passed through its checker (default: a number)."""
    return {k: types_.get(k, _number)(v, (*path, k)) for k, v in data.items()}


def _blame(path: _Path, keys: Collection[str], err: Exception) -> _Invalid:
    """Attach a builder's error to the key its message starts with, else to ``path``."""
    message = str(err)
    for key in sorted(keys, key=len, reverse=True):
        if message.startswith(key) and message[len(key) : len(key) + 1] in (" ", "=", ":", "("):
            return _Invalid((*path, key), message)
    return _Invalid(path, message)


# --------------------------------------------------------------------------- sections

_TOP_KEYS: Final = ("description", "dt", "topology", "traffic", "engine", "env")

# The topology generators, plus ``file`` for GML/GraphML topologies.
_GENERATORS: Final[dict[str, Callable[..., nx.Graph]]] = {**GENERATORS, "file": load_topology}

# Types of the generator keywords; any other keyword must be a number.
_TOPOLOGY_TYPES: Final[dict[str, Callable[[object, _Path], Any]]] = {
    "path": _string,
    "n_nodes": _integer,
    "k_nearest": _integer,
    "rows": _integer,
    "cols": _integer,
    "memory": _integer_or_range,
    "gen_rate": _number_or_range,
    "swap_capacity": _number_or_range,
    "t_coh": _number_or_range,
    "f0": _number_or_range,
    "default_length_km": _optional_number,
}


@dataclass(frozen=True)
class _TopologySpec:
    generator: str
    kwargs: dict[str, Any]

    def build(self, rng: np.random.Generator) -> nx.Graph:
        path: _Path = ("topology",)
        try:
            return _GENERATORS[self.generator](rng=rng, **self.kwargs)
        except (ValueError, TypeError) as err:
            if self.generator == "file" and str(err).startswith(str(self.kwargs["path"])):
                raise _Invalid((*path, "path"), str(err)) from err
            raise _blame(path, self.kwargs, err) from err


def _topology(value: object, yaml_dir: Path) -> _TopologySpec:
    path: _Path = ("topology",)
    data = _mapping(value, path, required=("generator",))
    generator = _choice(data["generator"], (*path, "generator"), _GENERATORS, "generator")
    params = inspect.signature(_GENERATORS[generator]).parameters
    allowed = {name for name in params if name != "rng"} | {"generator"}
    required = [
        name for name, p in params.items() if name != "rng" and p.default is inspect.Parameter.empty
    ]
    data = _mapping(data, path, allowed, required)
    kwargs = _checked({k: v for k, v in data.items() if k != "generator"}, path, _TOPOLOGY_TYPES)
    if generator == "file":
        file = Path(kwargs["path"]).expanduser()
        kwargs["path"] = file if file.is_absolute() else (yaml_dir / file).resolve()
    return _TopologySpec(generator, kwargs)


# kind: (class, its parameters, the required ones)
_TEMPORAL_KINDS: Final[dict[str, tuple[type[TemporalProcess], tuple[str, ...], int]]] = {
    "poisson": (Poisson, ("rate",), 1),
    "diurnal": (Diurnal, ("mean_rate", "amplitude", "period_s", "phase"), 2),
    "bursty": (Bursty, ("low_rate", "high_rate", "p_on", "p_off"), 4),
}
_TEMPORAL_CHOICES: Final = (*_TEMPORAL_KINDS, "product")


def _temporal(value: object, path: _Path) -> TemporalProcess:
    data = _mapping(value, path, required=("kind",))
    kind = _choice(data["kind"], (*path, "kind"), _TEMPORAL_CHOICES, "kind")
    if kind == "product":
        data = _mapping(data, path, ("kind", "factors"), ("factors",))
        factors = data["factors"]
        if not isinstance(factors, list | tuple) or len(factors) < 2:
            raise _Invalid(
                (*path, "factors"),
                f"must be a list of at least 2 temporal processes, got {_describe(factors)}",
            )
        procs = [_temporal(f, (*path, "factors", i)) for i, f in enumerate(factors)]
        try:
            return Modulated(procs[0], *procs[1:])
        except ValueError as err:
            raise _Invalid((*path, "factors"), str(err)) from err
    cls, params, n_required = _TEMPORAL_KINDS[kind]
    data = _mapping(data, path, ("kind", *params), params[:n_required])
    kwargs = _checked({k: v for k, v in data.items() if k != "kind"}, path, {"phase": _phase})
    try:
        return cls(**kwargs)
    except ValueError as err:
        raise _blame(path, kwargs, err) from err


_DISTANCES: Final = ("hops", "km", "none")


@dataclass(frozen=True)
class _SpatialSpec:
    kind: str
    sigma: float = 1.0
    exponent: float = 1.0
    distance: str = "none"

    def build(self, graph: nx.Graph, rng: np.random.Generator) -> SpatialModel:
        if self.kind == "uniform":
            return Uniform()
        n = graph.number_of_nodes()
        mass = rng.lognormal(0.0, self.sigma, size=n)
        distance = None if self.distance == "none" else _distance_matrix(graph, self.distance)
        return Gravity(mass=mass, exponent=self.exponent, distance=distance, sigma=self.sigma)


def _distance_matrix(graph: nx.Graph, by: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """(N, N) shortest-path distances in hops or km (edge ``length``)."""
    n = graph.number_of_nodes()
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(n), weight="length")
    dist = np.asarray(shortest_path(adjacency, directed=False, unweighted=by == "hops"))
    if not np.all(np.isfinite(dist)):
        parts = nx.number_connected_components(graph)
        raise _Invalid(
            ("traffic", "spatial", "distance"),
            f"distance {by!r} needs a connected graph; the topology has {parts} components",
        )
    return dist.astype(np.float64)


def _spatial(value: object, path: _Path) -> _SpatialSpec:
    data = _mapping(value, path, required=("kind",))
    kind = _choice(data["kind"], (*path, "kind"), ("uniform", "gravity"), "kind")
    if kind == "uniform":
        _mapping(data, path, ("kind",))
        return _SpatialSpec("uniform")
    data = _mapping(data, path, ("kind", "sigma", "exponent", "distance"))
    sigma = _number(data.get("sigma", 1.0), (*path, "sigma"))
    if not (np.isfinite(sigma) and sigma >= 0):
        raise _Invalid((*path, "sigma"), f"must be a finite number >= 0, got {sigma!r}")
    exponent = _number(data.get("exponent", 1.0), (*path, "exponent"))
    if not np.isfinite(exponent):
        raise _Invalid((*path, "exponent"), f"must be a finite number, got {exponent!r}")
    distance = data.get("distance", "none")
    distance = "none" if distance is None else distance
    distance = _choice(distance, (*path, "distance"), _DISTANCES, "distance")
    return _SpatialSpec("gravity", sigma, exponent, distance)


@dataclass(frozen=True)
class _TrafficSpec:
    temporal: TemporalProcess
    spatial: _SpatialSpec
    kwargs: dict[str, Any]

    def build(self, graph: nx.Graph, rng: np.random.Generator, dt: float) -> TrafficModel:
        spatial = self.spatial.build(graph, rng)
        try:
            return TrafficModel(self.temporal, spatial, dt=dt, **self.kwargs)
        except ValueError as err:
            raise _blame(("traffic",), self.kwargs, err) from err


def _traffic(value: object) -> _TrafficSpec:
    path: _Path = ("traffic",)
    keys = ("temporal", "spatial", "f_min", "n_pairs", "deadline_slots")
    data = _mapping(value, path, keys, ("temporal",))
    temporal = _temporal(data["temporal"], (*path, "temporal"))
    spatial = _spatial(data.get("spatial", {"kind": "uniform"}), (*path, "spatial"))
    types_ = {"f_min": _number_or_range, "n_pairs": _integer_or_range}
    types_["deadline_slots"] = _integer_or_range
    kwargs = _checked({k: data[k] for k in keys[2:] if k in data}, path, types_)
    # Validate the ranges now, before any random draw.
    _blame_call(path, kwargs, lambda: TrafficModel(temporal, None, **kwargs))
    return _TrafficSpec(temporal, spatial, kwargs)


def _blame_call(path: _Path, keys: Collection[str], call: Callable[[], object]) -> None:
    try:
        call()
    except ValueError as err:
        raise _blame(path, keys, err) from err


def _engine_checker(hint: object) -> Callable[[object, _Path], Any]:
    """A checker from an EngineConfig field's type hint (int, float, optional)."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    base: Callable[[object, _Path], Any]
    if int in args and float not in args:
        base = _integer
    elif float in args or int in args:
        base = _number
    else:
        return lambda value, path: value
    if type(None) in args:
        return lambda value, path: None if value is None else base(value, path)
    return base


def _engine(value: object, dt: float) -> EngineConfig:
    path: _Path = ("engine",)
    hints = typing.get_type_hints(EngineConfig)
    names = [f.name for f in dataclasses.fields(EngineConfig) if f.name != "dt"]
    data = _mapping(value, path)
    if "dt" in data:
        raise _Invalid(
            (*path, "dt"), "set dt at the top level (it is shared by traffic and engine)"
        )
    data = _mapping(data, path, names)
    kwargs = {k: _engine_checker(hints[k])(v, (*path, k)) for k, v in data.items()}
    for key, val in kwargs.items():  # one at a time, so that a range error names its key
        _blame_call(path, (key,), functools.partial(EngineConfig, dt=dt, **{key: val}))
    try:
        return EngineConfig(dt=dt, **kwargs)
    except ValueError as err:
        raise _blame(path, kwargs, err) from err


@dataclass(frozen=True)
class _Spec:
    description: str
    dt: float
    topology: _TopologySpec
    traffic: _TrafficSpec
    engine: EngineConfig
    env: dict[str, Any]


def _parse(data: object, yaml_dir: Path) -> _Spec:
    if data is None:
        raise _Invalid((), "empty file (expected a mapping with topology and traffic)")
    if not isinstance(data, dict):
        raise _Invalid((), f"the document must be a mapping of sections, got {_describe(data)}")
    top = _mapping(data, (), _TOP_KEYS, ("topology", "traffic"))
    description = _string(top.get("description", ""), ("description",))
    dt = _number(top.get("dt", 0.01), ("dt",))
    if not (np.isfinite(dt) and dt > 0):
        raise _Invalid(("dt",), f"must be a finite number > 0 (s), got {dt!r}")
    topology = _topology(top["topology"], yaml_dir)
    traffic = _traffic(top["traffic"])
    engine = _engine(top.get("engine", {}), dt)
    env = dict(_mapping(top.get("env", {}), ("env",)))
    return _Spec(description, dt, topology, traffic, engine, env)


# --------------------------------------------------------------------------- overrides


def _apply_overrides(data: object, overrides: Mapping[str, Any]) -> dict[_Path, str]:
    """Write each dotted-key override into ``data`` in place; returns path -> override key."""
    applied: dict[_Path, str] = {}
    for key, value in overrides.items():
        parts = key.split(".")
        if not all(parts):
            raise _Invalid((), f"override {key!r}: empty component in the dotted key")
        node: Any = data
        path: list[str | int] = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = _format_path(tuple(path)) or "the top level"
            if isinstance(node, dict):
                if last:
                    node[part] = copy.deepcopy(value)  # later overrides may write into it
                else:
                    node = node.setdefault(part, {})
                path.append(part)
            elif isinstance(node, list):
                if not (part.isdigit() and int(part) < len(node)):
                    raise _Invalid(
                        (),
                        f"override {key!r}: {part!r} is not an index of {where} "
                        f"(a list of {len(node)})",
                    )
                if last:
                    node[int(part)] = copy.deepcopy(value)
                else:
                    node = node[int(part)]
                path.append(int(part))
            else:
                raise _Invalid(
                    (),
                    f"override {key!r}: {where} is {_describe(node)}, not a mapping or list",
                )
        applied[tuple(path)] = key
    return applied


def _scenario_error(
    shown: str, err: _Invalid, applied: Mapping[_Path, str], overrides: Mapping[str, Any]
) -> ScenarioError:
    """The error for a validation failure: file, key path, message, and the override that
    set the offending value (if one did)."""
    where = _format_path(err.path)
    message = f"{shown}: {where}: {err.message}" if where else f"{shown}: {err.message}"
    for set_path, key in applied.items():
        n = min(len(set_path), len(err.path))
        if err.path and err.path[:n] == set_path[:n]:
            message += f" (set by override {key}={overrides[key]!r})"
            break
    return ScenarioError(message)


# --------------------------------------------------------------------------- public API


def load_scenario(
    name_or_path: str | os.PathLike[str], seed: int = 0, **overrides: Any
) -> NetworkScenario:
    """Load, validate and build a scenario (see the module docstring for the schema).

    Args:
        name_or_path: a scenario name (``"dpem"``: ``<config dir>/scenarios/dpem.yaml``)
            or a path to a YAML file.
        seed: seeds the one generator behind every random draw of the scenario
            (topology, then gravity masses), so one seed fixes the scenario.
        **overrides: dotted key paths replacing YAML values before building, e.g.
            ``load_scenario("dpem", 0, **{"topology.n_nodes": 10,
            "traffic.temporal.rate": 0.2})``; ``"dt"``, ``"engine.cutoff_slots"``,
            ``"env.horizon"``, ``"traffic.temporal.factors.1.amplitude"``, or a whole
            section. A key the schema does not know is an error naming the key.

    Raises:
        ScenarioError: (a ``ValueError``) missing file (the message lists the available
            names), YAML syntax error (with the line), or an invalid key or value (with
            the file and the key path).
    """
    seed = check_positive_int("seed", seed, 0)
    name, path = _resolve(name_or_path)
    shown = _display(path)
    if not path.is_file():
        available = ", ".join(scenario_names()) or "none"
        raise ScenarioError(
            f"{shown}: scenario file not found; available scenarios: {available} "
            f"(in {_display(config_dir() / 'scenarios')}), or pass a path to a YAML file"
        )
    data = _read_yaml(path, shown)
    applied: dict[_Path, str] = {}
    try:
        applied = _apply_overrides(data, overrides)
        spec = _parse(data, path.parent)
        rng = np.random.default_rng(seed)
        graph = spec.topology.build(rng)
        traffic = spec.traffic.build(graph, rng, spec.dt)
    except _Invalid as err:
        raise _scenario_error(shown, err, applied, overrides) from err
    return NetworkScenario(name, graph, traffic, spec.engine, spec.env, spec.description)


def make_scenario(name: str | os.PathLike[str], seed: int = 0, **overrides: Any) -> NetworkScenario:
    """Alias of :func:`load_scenario` (kept for existing callers)."""
    return load_scenario(name, seed, **overrides)
