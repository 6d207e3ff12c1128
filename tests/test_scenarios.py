"""Scenario YAML files: the shipped ones, seeding, overrides, lookup and every error path."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from qenv.cli import main
from qenv.network.engine import EngineConfig
from qenv.network.traffic import Diurnal, Gravity, Modulated, Poisson, TrafficModel, Uniform
from qenv.scenarios import (
    SCENARIOS,
    NetworkScenario,
    ScenarioError,
    load_scenario,
    make_scenario,
    scenario_names,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHIPPED = {"dpem": 100, "mesh8": 8, "chain5": 5, "surfnet": 50}

# A small valid scenario; tests edit it to make each malformed case.
BASE = """\
description: test scenario
dt: 0.01
topology:
  generator: chain
  n_nodes: 4
  spacing_km: 10.0
  gen_rate: 10.0
  swap_capacity: 5.0
  t_coh: 10.0
traffic:
  temporal: {kind: poisson, rate: 1.0}
  spatial: {kind: uniform}
  f_min: [0.5, 0.8]
  deadline_slots: 50
engine: {cutoff_slots: 20}
env: {horizon: 50, k_paths: 1}
"""


def write(tmp_path: Path, text: str, name: str = "sc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def attributes(graph: nx.Graph) -> tuple[list[Any], list[Any]]:
    """Node and edge attribute dicts in a comparable form."""
    return list(graph.nodes(data=True)), list(graph.edges(data=True))


def batch_of(sc: NetworkScenario, slots: int = 2000) -> Any:
    return sc.traffic.generate(sc.graph.number_of_nodes(), slots, np.random.default_rng(7))


# --------------------------------------------------------------------------- shipped scenarios


def test_names_are_the_files_of_the_scenarios_directory() -> None:
    assert set(SHIPPED) <= set(SCENARIOS)
    assert list(SCENARIOS) == sorted(SCENARIOS)
    assert scenario_names() == SCENARIOS
    assert set(SCENARIOS) == {p.stem for p in (CONFIGS / "scenarios").glob("*.yaml")}


@pytest.mark.parametrize(("name", "n_nodes"), sorted(SHIPPED.items()))
def test_every_shipped_scenario_loads_and_builds(name: str, n_nodes: int) -> None:
    sc = load_scenario(name, seed=0)
    assert sc.name == name and sc.description
    assert sc.graph.number_of_nodes() == n_nodes
    assert sc.graph.graph["is_connected"]
    assert isinstance(sc.traffic, TrafficModel) and isinstance(sc.engine, EngineConfig)
    assert sc.engine.dt == sc.traffic.dt == 0.01 and sc.engine.cutoff_slots == 100
    assert sc.env["horizon"] == 1000 and sc.env["k_paths"] == (1 if name == "chain5" else 3)
    assert all(t == 10.0 for _, t in sc.graph.nodes(data="t_coh"))
    deadline = 300 if name == "dpem" else 200
    assert sc.traffic.f_min == (0.5, 0.8) and sc.traffic.deadline_slots == (deadline, deadline)
    batch = batch_of(sc)
    assert len(batch) > 0 and batch.source.max() < n_nodes


def test_dpem_is_the_documented_default() -> None:
    sc = make_scenario("dpem", 0)  # the old name still works
    g = sc.graph
    assert g.number_of_edges() >= 99
    gen = np.array([r for _, r in g.nodes(data="gen_rate")])
    swap = np.array([c for _, c in g.nodes(data="swap_capacity")])
    assert gen.min() >= 0 and gen.max() <= 10 and gen.std() > 1
    assert swap.min() >= 0 and swap.max() <= 5
    assert {m for _, m in g.nodes(data="memory")} == {8}
    assert {f for *_, f in g.edges(data="f0")} == {0.97}
    assert isinstance(sc.traffic.temporal, Poisson) and sc.traffic.temporal.rate == 0.5
    spatial = sc.traffic.spatial
    assert isinstance(spatial, Gravity) and spatial.exponent == 2.0
    assert spatial.distance is not None and spatial.distance.shape == (100, 100)
    assert spatial.mass is not None and spatial.mass.shape == (100,)


def test_surfnet_is_the_zoo_file_with_repeated_edges_collapsed() -> None:
    sc = load_scenario("surfnet", 0)
    g = sc.graph
    assert g.graph["name"] == "Surfnet" and g.number_of_edges() == 68
    assert sum(m == 2 for *_, m in g.edges(data="multiplicity")) == 5
    lengths = [length for *_, length in g.edges(data="length")]
    assert min(lengths) > 2.8 and max(lengths) < 113
    assert isinstance(sc.traffic.spatial, Gravity)


def test_chain5_has_no_randomness() -> None:
    a, b = load_scenario("chain5", 0), load_scenario("chain5", 1)
    assert attributes(a.graph) == attributes(b.graph)
    assert isinstance(a.traffic.spatial, Uniform)


# --------------------------------------------------------------------------- seeding


@pytest.mark.parametrize(
    ("name", "overrides"),
    [("dpem", {"topology.n_nodes": 12}), ("mesh8", {}), ("surfnet", {})],
)
def test_one_seed_fixes_the_scenario(name: str, overrides: dict[str, Any]) -> None:
    a = load_scenario(name, 3, **overrides)
    b = load_scenario(name, 3, **overrides)
    c = load_scenario(name, 4, **overrides)
    assert attributes(a.graph) == attributes(b.graph)
    assert len(batch_of(a)) > 0 and batch_of(a) == batch_of(b)
    assert attributes(a.graph) != attributes(c.graph)
    if isinstance(a.traffic.spatial, Gravity):
        assert isinstance(c.traffic.spatial, Gravity)
        assert a.traffic.spatial.mass is not None and c.traffic.spatial.mass is not None
        assert not np.array_equal(a.traffic.spatial.mass, c.traffic.spatial.mass)
        assert batch_of(a) != batch_of(c)


def test_gravity_masses_come_after_the_topology_from_one_rng() -> None:
    from qenv.network.topology import random_mesh

    sc = load_scenario("dpem", 5, **{"topology.n_nodes": 10})
    rng = np.random.default_rng(5)
    graph = random_mesh(10, rng=rng, area_km=200.0, t_coh=10.0)
    assert attributes(graph)[1] == attributes(sc.graph)[1]
    spatial = sc.traffic.spatial
    assert isinstance(spatial, Gravity) and spatial.mass is not None
    np.testing.assert_array_equal(spatial.mass, rng.lognormal(0.0, 1.0, 10))


# --------------------------------------------------------------------------- overrides


def test_overrides_replace_yaml_values() -> None:
    sc = load_scenario(
        "dpem",
        0,
        **{
            "topology.n_nodes": 10,
            "traffic.temporal.rate": 0.2,
            "dt": 0.02,
            "engine.cutoff_slots": None,
            "env.horizon": 50,
            "traffic.spatial": {"kind": "uniform"},
            "traffic.f_min": (0.6, 0.7),
        },
    )
    assert sc.graph.number_of_nodes() == 10
    assert isinstance(sc.traffic.temporal, Poisson) and sc.traffic.temporal.rate == 0.2
    assert sc.traffic.dt == sc.engine.dt == 0.02 and sc.engine.cutoff_slots is None
    assert sc.env == {"horizon": 50, "k_paths": 3}
    assert isinstance(sc.traffic.spatial, Uniform) and sc.traffic.f_min == (0.6, 0.7)


def test_overrides_do_not_modify_the_values_passed() -> None:
    spatial = {"kind": "gravity"}
    sc = load_scenario("mesh8", 0, **{"traffic.spatial": spatial, "traffic.spatial.sigma": 0.5})
    assert isinstance(sc.traffic.spatial, Gravity) and sc.traffic.spatial.sigma == 0.5
    assert spatial == {"kind": "gravity"}


def test_override_creates_a_missing_section_and_indexes_lists(tmp_path: Path) -> None:
    text = BASE.replace("engine: {cutoff_slots: 20}\n", "").replace(
        "temporal: {kind: poisson, rate: 1.0}",
        "temporal: {kind: product, factors: [{kind: poisson, rate: 1.0},"
        " {kind: diurnal, mean_rate: 1.0, amplitude: 0.5, period_s: 1.0}]}",
    )
    path = write(tmp_path, text)
    sc = load_scenario(
        path, **{"engine.swap_prob": 0.5, "traffic.temporal.factors.1.amplitude": 0.25}
    )
    assert sc.engine.swap_prob == 0.5
    temporal = sc.traffic.temporal
    assert isinstance(temporal, Modulated) and isinstance(temporal.factors[0], Diurnal)
    assert temporal.factors[0].amplitude == 0.25


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"topology.n_nodez": 3}, "topology.n_nodez: unknown key 'n_nodez'"),
        ({"traffic.temporal.rat": 3}, "traffic.temporal.rat: unknown key"),
        ({"engine.cutof_slots": 3}, "engine.cutof_slots: unknown key"),
        ({"colour": "red"}, "colour: unknown key"),
        ({"topology.n_nodes.x": 3}, "override 'topology.n_nodes.x'"),
        ({"traffic..rate": 3}, "override 'traffic..rate'"),
        ({"topology.n_nodes": "ten"}, "topology.n_nodes: must be an integer"),
        ({"topology.n_nodes": 1}, "topology.n_nodes: n_nodes must be an integer >= 2"),
    ],
)
def test_bad_overrides_are_errors_naming_the_key(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)) as info:
        load_scenario("mesh8", 0, **overrides)
    assert "mesh8.yaml" in str(info.value)
    if not expected.startswith("override"):
        assert "set by override" in str(info.value)


# --------------------------------------------------------------------------- lookup


def test_paths_and_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, BASE, "my_net.yaml")
    by_str, by_path = load_scenario(str(path)), load_scenario(path)
    assert by_str.name == by_path.name == "my_net"
    assert attributes(by_str.graph) == attributes(by_path.graph)
    assert by_str.graph.number_of_nodes() == 4 and by_str.env == {"horizon": 50, "k_paths": 1}

    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "other.yaml").write_text(BASE)
    monkeypatch.setenv("QENV_CONFIG_DIR", str(tmp_path))
    assert scenario_names() == ("other",)
    assert load_scenario("other").name == "other"
    with pytest.raises(ValueError, match="available scenarios: other"):
        load_scenario("dpem")


def test_file_generator_resolves_path_next_to_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "topo").mkdir()
    gml = (CONFIGS / "topologies" / "Surfnet.gml").read_bytes()
    (tmp_path / "topo" / "net.gml").write_bytes(gml)
    (tmp_path / "sc").mkdir()
    text = BASE.replace(
        "  generator: chain\n  n_nodes: 4\n  spacing_km: 10.0\n",
        "  generator: file\n  path: ../topo/net.gml\n",
    )
    sc = load_scenario(write(tmp_path / "sc", text))
    assert sc.graph.number_of_nodes() == 50 and sc.graph.graph["name"] == "net"


@pytest.mark.parametrize(("distance", "scale"), [("hops", 1.0), ("km", 10.0)])
def test_gravity_distance_is_the_shortest_path_matrix(
    tmp_path: Path, distance: str, scale: float
) -> None:
    spatial = f"spatial: {{kind: gravity, sigma: 0.5, exponent: 2, distance: {distance}}}"
    path = write(tmp_path, BASE.replace("spatial: {kind: uniform}", spatial))
    model = load_scenario(path).traffic.spatial
    assert isinstance(model, Gravity) and model.distance is not None
    i = np.arange(4)
    np.testing.assert_allclose(model.distance, scale * np.abs(i[:, None] - i[None, :]))
    assert model.sigma == 0.5 and model.exponent == 2.0


def test_yaml_1_2_floats_are_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("rate: 1.0}", "rate: 1e-1}"))
    temporal = load_scenario(path).traffic.temporal
    assert isinstance(temporal, Poisson) and temporal.rate == 0.1


# --------------------------------------------------------------------------- errors

MALFORMED = [
    # (replace this, with this, the message must contain)
    ("description: test scenario", "descripton: x", "descripton: unknown key 'descripton'"),
    ("  spacing_km: 10.0", "  spacing_km: 10.0\n  colour: red", "topology.colour: unknown key"),
    ("  spatial: {kind: uniform}", "  spatial: {kind: uniform, sigma: 1}", "traffic.spatial.sigma"),
    ("engine: {cutoff_slots: 20}", "engine: {cutoff: 20}", "engine.cutoff: unknown key"),
    ("kind: poisson", "kind: poison", "traffic.temporal.kind: unknown kind 'poison'"),
    ("generator: chain", "generator: line", "topology.generator: unknown generator 'line'"),
    ("kind: uniform", "kind: zipf", "traffic.spatial.kind: unknown kind 'zipf'"),
    ("kind: uniform", "kind: gravity, distance: miles", "traffic.spatial.distance: unknown"),
    ("n_nodes: 4", "n_nodes: four", "topology.n_nodes: must be an integer, got 'four'"),
    ("n_nodes: 4", "n_nodes: 4.0", "topology.n_nodes: must be an integer"),
    ("gen_rate: 10.0", "gen_rate: [1, 2, 3]", "topology.gen_rate: must be a number or a [low"),
    ("gen_rate: 10.0", "gen_rate: [1, x]", "topology.gen_rate[1]: must be a number"),
    ("rate: 1.0", "rate: fast", "traffic.temporal.rate: must be a number"),
    ("rate: 1.0", "rate: -1.0", "traffic.temporal.rate: rate must be finite and >= 0"),
    ("f_min: [0.5, 0.8]", "f_min: high", "traffic.f_min: must be a number"),
    ("f_min: [0.5, 0.8]", "f_min: [0.8, 0.5]", "traffic.f_min: f_min must be"),
    ("deadline_slots: 50", "deadline_slots: 0.5", "traffic.deadline_slots: must be an integer"),
    ("{cutoff_slots: 20}", "{cutoff_slots: 20, swap_prob: 2}", "engine.swap_prob: swap_prob"),
    ("{cutoff_slots: 20}", "{cutoff_slots: twenty}", "engine.cutoff_slots: must be an integer"),
    ("{cutoff_slots: 20}", "{dt: 0.1}", "engine.dt: set dt at the top level"),
    ("dt: 0.01", "dt: 0", "dt: must be a finite number > 0"),
    ("dt: 0.01", "dt: '0.01'", "dt: must be a number, got '0.01' (a string)"),
    ("env: {horizon: 50, k_paths: 1}", "env: [50, 1]", "env: must be a mapping"),
    ("env: {horizon: 50, k_paths: 1}", "env: {1: 50}", "env: keys must be strings"),
    ("description: test scenario", "description: [a, b]", "description: must be a string"),
    ("  temporal: {kind: poisson, rate: 1.0}\n", "", "traffic.temporal: missing required key"),
    ("  n_nodes: 4\n", "", "topology.n_nodes: missing required key 'n_nodes'"),
    ("{kind: poisson, rate: 1.0}", "{kind: diurnal, mean_rate: 1.0}", "temporal.amplitude"),
    (
        "{kind: poisson, rate: 1.0}",
        "{kind: product, factors: [{kind: poisson, rate: 1.0}, {kind: sine}]}",
        "traffic.temporal.factors[1].kind: unknown kind 'sine'",
    ),
    (
        "{kind: poisson, rate: 1.0}",
        "{kind: product, factors: [{kind: poisson, rate: 1.0}]}",
        "traffic.temporal.factors: must be a list of at least 2",
    ),
    (
        "  generator: chain\n  n_nodes: 4\n  spacing_km: 10.0\n",
        "  generator: file\n  path: missing.gml\n",
        "topology.path: ",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), MALFORMED)
def test_malformed_yaml_names_file_and_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1), "bad.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_unknown_top_level_key_and_missing_section(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"bad\.yaml: topolgy: unknown key 'topolgy'"):
        load_scenario(write(tmp_path, BASE.replace("topology:", "topolgy:"), "bad.yaml"))
    no_traffic = BASE.split("traffic:")[0]
    with pytest.raises(ValueError, match=r"bad2\.yaml: traffic: missing required key"):
        load_scenario(write(tmp_path, no_traffic, "bad2.yaml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("topology: {generator: chain\ntraffic: {}\n", "line 2"),
        ("topology:\n  generator: chain\n   n_nodes: 4\n", "line 3"),
        ("dt: 0.01\ndt: 0.02\n", "line 2, column 1: invalid YAML: duplicate key 'dt'"),
        ("topology: [unclosed\n", "line 2"),
    ],
)
def test_yaml_syntax_errors_give_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text, "broken.yaml")
    with pytest.raises(ValueError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n", "just text\n"])
def test_document_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text, "odd.yaml")
    with pytest.raises(ValueError, match=re.escape(f"{path}: ")):
        load_scenario(path)


def test_missing_file_lists_the_available_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nope\.yaml: scenario file not found") as info:
        load_scenario("nope")
    for name in SHIPPED:
        assert name in str(info.value)
    with pytest.raises(ValueError, match=r"available scenarios: .*chain5, .*dpem"):
        load_scenario(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- command line


def test_simulate_takes_a_yaml_path_and_its_horizon(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    out = tmp_path / "m.json"
    assert main(["simulate", "--scenario", str(path), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["slots"] == 50
    assert main(["simulate", "--scenario", str(path), "--slots", "30", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["slots"] == 30


def test_simulate_flags_override_the_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BASE)
    assert main(["simulate", "--scenario", str(path), "--cutoff", "5", "--dt", "0.02"]) == 0
    assert main(["simulate", "--scenario", str(path), "--swap-prob", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "engine.swap_prob" in err and "sc.yaml" in err
    assert main(["simulate", "--scenario", "nope"]) == 2
    assert "available scenarios" in capsys.readouterr().err
