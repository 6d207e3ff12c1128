"""QPU dispatch scenarios: the shipped files load; errors name the file and the key."""

from __future__ import annotations

import pytest

from qenv.qpu_scenarios import load_qpu_scenario, qpu_scenario_names
from qenv.scenarios import ScenarioError


@pytest.mark.parametrize("name", qpu_scenario_names())
def test_shipped_scenarios_load(name: str) -> None:
    sc = load_qpu_scenario(name, 0)
    assert sc.fleet and sc.gateways >= 1 and sc.dt > 0
    assert len({q.name for q in sc.fleet}) == len(sc.fleet)


def test_default_fleet_is_the_designed_mix() -> None:
    sc = load_qpu_scenario("default", 0)
    tech = [q.technology for q in sc.fleet]
    assert (tech.count("superconducting"), tech.count("trapped_ion"), tech.count("photonic")) == (
        3,
        2,
        1,
    )
    assert sc.gateways == 4 and len({q.num_qubits for q in sc.fleet}) == 6


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"drift.sigma": -1}, "drift.sigma"),
        ({"dt": 0}, "dt"),
        ({"gateways": 0}, "gateways"),
        ({"env.horizon": 0}, "env.horizon"),
        ({"fleet": []}, "fleet"),
        ({"fleet": ["no_such_qpu"]}, "fleet[0]"),
        ({"fleet": ["ibm_nairobi", "ibm_nairobi"]}, "fleet"),
        ({"workload": "no_such_workload"}, "workload"),
        ({"drift.speed": 1}, "drift.speed"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_errors_name_the_file_and_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_qpu_scenario("default", 0, **overrides)
    message = str(info.value)
    assert message.startswith("configs/qpu_scenarios/default.yaml: ") or "default.yaml" in message
    assert f" {key}:" in message or f"{key}: " in message


def test_missing_file_lists_the_names() -> None:
    with pytest.raises(ScenarioError, match="available QPU scenarios: default"):
        load_qpu_scenario("nope", 0)
