"""QPU specs: the shipped YAMLs, IBM fake-backend snapshots, their defects, validation errors."""

from __future__ import annotations

import copy
import json
import pickle
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import yaml

from qenv.hardware import (
    DEFAULT_FLEET,
    Calibration,
    QPUSpec,
    QPUSpecError,
    available_fake_backends,
    default_fleet,
    from_fake_backend,
    from_properties,
    load_qpu,
    qpu_names,
)
from qenv.hardware.ibm import DEFAULT_READOUT_S, fake_backends_dir
from qenv.hardware.spec import ONE_QUBIT_GATES, TWO_QUBIT_GATES

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def raw_props(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (fake_backends_dir() / name / f"props_{name}.json").read_text()
    )
    return data


# A small valid mapping; the validation tests break one field at a time.
BASE: dict[str, Any] = {
    "name": "toy",
    "technology": "superconducting",
    "num_qubits": 3,
    "edges": [[0, 1], [1, 2]],
    "basis_gates": ["rz", "sx", "x", "cx"],
    "virtual_gates": ["rz"],
    "duration_1q_s": 3.5e-8,
    "duration_2q_s": [3.0e-7, 4.0e-7],
    "duration_readout_s": 5e-6,
    "shot_overhead_s": 2.5e-4,
    "calibration": {
        "t1_s": [1e-4, 2e-4, 3e-4],
        "t2_s": 1e-4,
        "readout_error": [0.01, 0.02, 0.03],
        "gate_error_1q": 3e-4,
        "gate_error_2q": [0.01, 0.02],
    },
    "source": "test",
    "synthetic": False,
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def spec_graph(spec: QPUSpec) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(range(spec.num_qubits))
    graph.add_edges_from(spec.edges.tolist())
    return graph


# --------------------------------------------------------------------------- shipped files


def test_qpu_names_are_the_yaml_files() -> None:
    assert set(qpu_names()) == {p.stem for p in (CONFIGS / "qpus").glob("*.yaml")}
    assert set(DEFAULT_FLEET) <= set(qpu_names())


@pytest.mark.parametrize("name", qpu_names())
def test_every_shipped_qpu_loads_valid_and_read_only(name: str) -> None:
    spec = load_qpu(name)
    assert spec.name == name and spec.source
    assert nx.is_connected(spec_graph(spec))  # routable between any two qubits
    assert spec.edges.dtype == np.int64 and np.all(spec.edges[:, 0] < spec.edges[:, 1])
    codes = spec.edges[:, 0] * spec.num_qubits + spec.edges[:, 1]
    assert np.all(np.diff(codes) > 0)  # sorted and unique
    cal = spec.calibration
    arrays = [spec.edges, spec.duration_1q_s, spec.duration_2q_s, spec.duration_readout_s]
    arrays += [cal.t1_s, cal.t2_s, cal.readout_error, cal.gate_error_1q, cal.gate_error_2q]
    assert all(not a.flags.writeable for a in arrays)
    assert np.all(cal.t2_s <= 2 * cal.t1_s)
    summary = cal.summary()
    assert set(summary) == {"t1_s", "t2_s", "readout_error", "gate_error_1q", "gate_error_2q"}
    assert all(0 < summary[k] < 0.1 for k in ("readout_error", "gate_error_1q", "gate_error_2q"))
    with pytest.raises(ValueError, match="read-only"):
        cal.t1_s[0] = 1.0


def test_default_fleet_has_three_technologies_and_three_superconducting_sizes() -> None:
    fleet = default_fleet()
    assert [s.name for s in fleet] == list(DEFAULT_FLEET)
    by_tech: dict[str, list[QPUSpec]] = {}
    for spec in fleet:
        by_tech.setdefault(spec.technology, []).append(spec)
    assert sorted(s.num_qubits for s in by_tech["superconducting"]) == [7, 27, 127]
    assert {s.name for s in by_tech["trapped_ion"]} == {"ionq_aria", "ionq_forte"}
    (photonic,) = by_tech["photonic"]
    assert [s.name for s in fleet if s.synthetic] == [photonic.name]
    assert np.all(np.isinf(photonic.calibration.t1_s)) and photonic.virtual_gates == ()


def test_trapped_ion_numbers_are_the_published_ones() -> None:
    aria, forte = load_qpu("ionq_aria"), load_qpu("ionq_forte")
    for spec, n, e2, spam, d1, d2, dro in (
        (aria, 25, 1 - 0.9872, 1 - 0.9937, 135e-6, 600e-6, 300e-6),
        (forte, 36, 1 - 0.9932, 1 - 0.9959, 130e-6, 970e-6, 150e-6),
    ):
        cal = spec.calibration
        assert spec.num_qubits == n and spec.all_to_all and spec.num_edges == n * (n - 1) // 2
        np.testing.assert_allclose(cal.gate_error_1q, 1 - 0.9998, rtol=1e-9)
        np.testing.assert_allclose(cal.gate_error_2q, e2, rtol=1e-9)
        np.testing.assert_allclose(cal.readout_error, spam, rtol=1e-9)
        np.testing.assert_allclose(spec.duration_1q_s, d1)
        np.testing.assert_allclose(spec.duration_2q_s, d2)
        np.testing.assert_allclose(spec.duration_readout_s, dro)
        assert np.all(cal.t1_s == 10.0) and np.all(cal.t2_s == 1.0)
        assert spec.virtual_gates == ("rz",) and not spec.synthetic
    assert aria.two_qubit_gate == "rxx" and forte.two_qubit_gate == "rzz"


def test_gate_tables_match_qiskit() -> None:
    from qiskit.circuit import Gate
    from qiskit.circuit.library import get_standard_gate_name_mapping

    mapping = get_standard_gate_name_mapping()
    gates = {k: v for k, v in mapping.items() if isinstance(v, Gate)}
    assert {k for k, v in gates.items() if v.num_qubits == 1} == ONE_QUBIT_GATES
    assert {k for k, v in gates.items() if v.num_qubits == 2} == TWO_QUBIT_GATES


# --------------------------------------------------------------------------- IBM snapshots


def test_fake_backends_are_found_without_importing_the_package() -> None:
    names = available_fake_backends()
    assert {"nairobi", "hanoi", "brisbane", "kolkata"} <= set(names)
    assert list(names) == sorted(names)


def test_nairobi_matches_the_raw_json_with_units_converted() -> None:
    spec = from_fake_backend("nairobi")
    cal = spec.calibration
    assert spec.name == "ibm_nairobi" and spec.num_qubits == 7
    assert spec.basis_gates == ("rz", "sx", "x", "cx") and spec.virtual_gates == ("rz",)
    # Hand-checked in props_nairobi.json: T1/T2 in µs, lengths in ns.
    assert cal.t1_s[0] == pytest.approx(89.11932005215351e-6, rel=1e-12)
    assert cal.t2_s[0] == pytest.approx(15.788112289256514e-6, rel=1e-12)
    assert cal.readout_error[0] == pytest.approx(0.05800000000000005)
    assert cal.t1_s[3] == pytest.approx(74.94187944204907e-6, rel=1e-12)
    assert cal.t2_s[6] == pytest.approx(126.20772862063315e-6, rel=1e-12)
    assert cal.gate_error_1q[3] == pytest.approx(0.00040829319361637104)
    assert spec.duration_1q_s[0] == pytest.approx(35.55555555555556e-9, rel=1e-12)
    assert spec.duration_readout_s[6] == pytest.approx(5560.888888888889e-9, rel=1e-12)
    # cx 1-3: same error both ways, 270 ns one way and 306 ns the other: the longer one.
    e = spec.edge_index(3, 1)
    assert cal.gate_error_2q[e] == pytest.approx(0.006790988836364892)
    assert spec.duration_2q_s[e] == pytest.approx(305.77777777777777e-9, rel=1e-12)
    assert spec.edges.tolist() == [[0, 1], [1, 2], [1, 3], [3, 5], [4, 5], [5, 6]]
    assert spec.shot_overhead_s == pytest.approx(250e-6)  # default_rep_delay, µs
    assert spec.notes == ()
    # Every qubit against the file.
    for q, items in enumerate(raw_props("nairobi")["qubits"]):
        values = {item["name"]: item["value"] for item in items}
        assert cal.t1_s[q] == pytest.approx(values["T1"] * 1e-6, rel=1e-12)
        assert cal.readout_error[q] == pytest.approx(values["readout_error"])


def test_hanoi_t2_clipped_and_uncalibrated_direction_dropped() -> None:
    spec = from_fake_backend("hanoi")
    cal = spec.calibration
    raw = [{i["name"]: i["value"] for i in items} for items in raw_props("hanoi")["qubits"]]
    over = [q for q, v in enumerate(raw) if v["T2"] > 2 * v["T1"]]
    assert over == [2, 5, 10, 11, 13]
    np.testing.assert_allclose(cal.t2_s[over], 2 * cal.t1_s[over])
    kept = [q for q in range(27) if q not in over]
    np.testing.assert_allclose(cal.t2_s[kept], [raw[q]["T2"] * 1e-6 for q in kept], rtol=1e-12)
    assert any("T2 > 2*T1 on qubits [2, 5, 10, 11, 13]" in n for n in spec.notes)
    # cx 5->8 has gate_error = 1; 8->5 is calibrated (0.00902): that one is used.
    assert cal.gate_error_2q[spec.edge_index(5, 8)] == pytest.approx(0.009020371498925428)
    assert cal.gate_error_2q[spec.edge_index(19, 20)] == pytest.approx(0.004448040292188232)
    assert any("gate_error = 1" in n and "cx (5, 8)" in n for n in spec.notes)


def test_brisbane_uncalibrated_ecr_replaced_by_the_median() -> None:
    spec = from_fake_backend("brisbane")
    e2 = spec.calibration.gate_error_2q
    e = spec.edge_index(24, 25)
    others = np.delete(e2, e)
    assert spec.two_qubit_gate == "ecr" and spec.num_qubits == 127 and spec.num_edges == 144
    assert e2[e] == pytest.approx(np.median(others))
    assert any("(24, 25)" in n and "median" in n for n in spec.notes)


def test_fake_backend_errors_name_the_problem() -> None:
    with pytest.raises(
        QPUSpecError, match=r"unknown fake backend 'nairobii'; available: .*nairobi"
    ):
        from_fake_backend("nairobii")
    # Kyoto's snapshot has gate_error = 1 on all 144 ecr pairs: nothing to take a median of.
    with pytest.raises(QPUSpecError, match=r"ibm_kyoto: calibration.gate_error_2q: no usable"):
        from_fake_backend("kyoto")
    with pytest.raises(QPUSpecError, match=r"ibm_armonk: conf.basis_gates: no calibrated two"):
        from_fake_backend("armonk")  # a single qubit
    assert from_fake_backend("fake_lagos") is from_fake_backend("ibm_lagos")  # cached


def _qubit(t1_us: float | None, t2_us: float | None, readout: float) -> list[dict[str, Any]]:
    items = [{"name": "readout_error", "unit": "", "value": readout}]
    if t1_us is not None:
        items.append({"name": "T1", "unit": "us", "value": t1_us})
    if t2_us is not None:
        items.append({"name": "T2", "unit": "µs", "value": t2_us})
    return items


def _gate(gate: str, qubits: list[int], error: float, length_ns: float) -> dict[str, Any]:
    return {
        "gate": gate,
        "qubits": qubits,
        "parameters": [
            {"name": "gate_error", "unit": "", "value": error},
            {"name": "gate_length", "unit": "ns", "value": length_ns},
        ],
    }


def test_defects_of_a_constructed_snapshot_are_repaired_and_recorded() -> None:
    props = {
        "qubits": [
            _qubit(None, 50.0, 0.02),  # T1 missing
            _qubit(100.0, 250.0, 0.04),  # T2 > 2*T1
            _qubit(300.0, 100.0, 0.03),
            _qubit(200.0, 150.0, 0.05),
        ],
        "gates": [
            *(_gate("rz", [q], 0.0, 0.0) for q in range(4)),
            _gate("sx", [0], 1e-4, 35.0),
            _gate("sx", [1], 3e-4, 35.0),
            _gate("sx", [2], 1.0, 35.0),  # uncalibrated
            _gate("sx", [3], 2e-4, 35.0),
            _gate("ecr", [0, 1], 0.010, 500.0),
            _gate("ecr", [2, 1], 1.0, 600.0),  # the only direction of (1, 2): uncalibrated
            _gate("ecr", [2, 3], 0.030, 700.0),
            _gate("ecr", [3, 2], 0.050, 650.0),  # worse direction wins
            *(_gate("measure", [q], 0.0, 4000.0 + q) for q in range(4)),
        ],
    }
    conf = {
        "backend_name": "toy",
        "n_qubits": 4,
        "basis_gates": ["ecr", "id", "rz", "sx", "x"],
        "rep_times": [0.001],  # seconds where the schema says µs
    }
    spec = from_properties(props, conf)
    cal = spec.calibration
    assert spec.name == "toy" and spec.basis_gates == ("rz", "sx", "x", "ecr")
    assert spec.edges.tolist() == [[0, 1], [1, 2], [2, 3]]
    assert cal.t1_s[0] == pytest.approx(200e-6)  # median of 100, 300, 200 µs
    assert cal.t2_s[1] == pytest.approx(200e-6)  # 250 µs clipped to 2 * 100 µs
    assert cal.gate_error_1q[2] == pytest.approx(2e-4)  # median of 1e-4, 3e-4, 2e-4
    assert cal.gate_error_2q.tolist() == pytest.approx([0.010, 0.030, 0.050])
    assert spec.duration_2q_s.tolist() == pytest.approx([500e-9, 600e-9, 700e-9])
    assert spec.duration_readout_s.tolist() == pytest.approx([4000e-9 + q * 1e-9 for q in range(4)])
    assert spec.shot_overhead_s == pytest.approx(1e-3)
    notes = "\n".join(spec.notes)
    assert "calibration.t1_s: missing or uncalibrated on qubits q0" in notes
    assert "calibration.gate_error_1q: missing or uncalibrated on qubits q2" in notes
    assert "calibration.gate_error_2q: missing or uncalibrated on edges (1, 2)" in notes
    assert "T2 > 2*T1 on qubits [1]" in notes
    assert "measure gate" in notes and "read as seconds" in notes


def test_constructed_snapshot_without_readout_lengths_uses_the_documented_default() -> None:
    props = {
        "qubits": [_qubit(100.0, 100.0, 0.02), _qubit(100.0, 100.0, 0.02)],
        "gates": [_gate("u2", [0], 1e-3, 50.0), _gate("u2", [1], 1e-3, 50.0)]
        + [_gate("u1", [q], 0.0, 0.0) for q in (0, 1)]
        + [_gate("cx", [0, 1], 0.02, 400.0)],
    }
    conf = {"n_qubits": 2, "basis_gates": ["u1", "u2", "u3", "cx", "id"]}
    spec = from_properties(props, conf, name="old")
    assert spec.virtual_gates == ("u1",) and spec.basis_gates == ("u1", "u2", "u3", "cx")
    assert np.all(spec.duration_readout_s == DEFAULT_READOUT_S)
    assert spec.shot_overhead_s == pytest.approx(250e-6)
    assert len(spec.notes) == 2


def test_from_properties_rejects_a_qubit_count_mismatch() -> None:
    props = {"qubits": [_qubit(1.0, 1.0, 0.1)], "gates": []}
    with pytest.raises(QPUSpecError, match=r"toy: props.qubits: conf n_qubits 2"):
        from_properties(props, {"n_qubits": 2, "backend_name": "toy"})


# --------------------------------------------------------------------------- mappings


def test_base_mapping_builds_and_round_trips() -> None:
    spec = QPUSpec.from_mapping(base())
    assert spec.num_edges == 2 and spec.two_qubit_gate == "cx" and not spec.all_to_all
    again = QPUSpec.from_mapping(spec.to_mapping())
    for key in ("edges", "duration_1q_s", "duration_2q_s", "duration_readout_s"):
        np.testing.assert_array_equal(getattr(again, key), getattr(spec, key))
    for key in ("t1_s", "t2_s", "readout_error", "gate_error_1q", "gate_error_2q"):
        np.testing.assert_array_equal(
            getattr(again.calibration, key), getattr(spec.calibration, key)
        )
    assert again.to_mapping() == spec.to_mapping()


def test_edges_are_canonicalised_with_their_per_edge_values() -> None:
    data = base()
    data["num_qubits"] = 4
    data["calibration"]["t1_s"] = 1e-4
    data["calibration"]["readout_error"] = 0.01
    data["edges"] = [[3, 2], [1, 0], [2, 0]]
    data["duration_2q_s"] = [3e-7, 1e-7, 2e-7]
    data["calibration"]["gate_error_2q"] = [0.03, 0.01, 0.02]
    spec = QPUSpec.from_mapping(data)
    assert spec.edges.tolist() == [[0, 1], [0, 2], [2, 3]]
    assert spec.duration_2q_s.tolist() == [1e-7, 2e-7, 3e-7]
    assert spec.calibration.gate_error_2q.tolist() == [0.01, 0.02, 0.03]
    assert spec.edge_index(2, 0) == 1 and spec.edge_index(3, 2) == 2
    assert spec.edge_index_matrix[1, 0] == 0 and spec.edge_index_matrix[1, 3] == -1
    assert spec.coupling_map() == [[0, 1], [0, 2], [1, 0], [2, 0], [2, 3], [3, 2]]
    with pytest.raises(ValueError, match="not coupled"):
        spec.edge_index(1, 3)
    with pytest.raises(ValueError, match="outside the device"):
        spec.edge_index(0, 4)


def test_all_to_all_and_scalar_broadcast() -> None:
    data = base()
    data.update(edges="all_to_all", duration_2q_s=1e-6)
    data["calibration"]["gate_error_2q"] = 0.02
    spec = QPUSpec.from_mapping(data)
    assert spec.all_to_all and spec.edges.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert spec.calibration.gate_error_2q.tolist() == [0.02] * 3
    assert spec.calibration.gate_error_1q.tolist() == [3e-4] * 3


def test_fake_backend_source_with_overrides() -> None:
    data = {
        "source": {"fake_backend": "nairobi"},
        "name": "nairobi_noisy_readout",
        "shot_overhead_s": 1e-4,
        "calibration": {"readout_error": 0.2},
        "notes": ["a test"],
    }
    spec = QPUSpec.from_mapping(data)
    snap = from_fake_backend("nairobi")
    assert spec.name == "nairobi_noisy_readout" and spec.shot_overhead_s == 1e-4
    assert np.all(spec.calibration.readout_error == 0.2)
    np.testing.assert_array_equal(spec.calibration.t1_s, snap.calibration.t1_s)
    np.testing.assert_array_equal(spec.edges, snap.edges)
    assert spec.source == snap.source
    assert spec.notes[-2:] == (
        "overridden on top of the snapshot: name, shot_overhead_s, calibration.readout_error",
        "a test",
    )


def test_yaml_round_trip_through_a_file_keeps_infinities(tmp_path: Path) -> None:
    photonic = load_qpu("photonic_synthetic")
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(photonic.to_mapping()))
    again = load_qpu(path)
    assert np.all(np.isinf(again.calibration.t1_s)) and again.synthetic
    assert again.to_mapping() == photonic.to_mapping()


def test_qpu_names_follow_the_config_dir_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "qpus").mkdir()
    (tmp_path / "qpus" / "mine.yaml").write_text(yaml.safe_dump(base()))
    monkeypatch.setenv("QENV_CONFIG_DIR", str(tmp_path))
    assert qpu_names() == ("mine",)
    assert load_qpu("mine").name == "toy"


def test_spec_api_and_immutability() -> None:
    spec = QPUSpec.from_mapping(base())
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
    source = np.array([1e-4, 1e-4, 1e-4])
    zeros = np.zeros(3)
    cal = Calibration(source, source * 3, zeros, zeros, np.array([0.5, 0.0]), version=7)
    source[0] = 5.0  # the calibration holds a copy
    assert cal.t1_s[0] == 1e-4 and cal.t2_s.tolist() == [2e-4] * 3  # clipped to 2*T1
    new = spec.with_calibration(cal)
    assert new.calibration is cal and spec.calibration is not cal
    assert new.edges is spec.edges and new.name == spec.name
    assert new.calibration.summary()["gate_error_2q"] == 0.25
    with pytest.raises(QPUSpecError, match=r"calibration.gate_error_2q: expected 2 values"):
        ones = np.ones(3)
        spec.with_calibration(Calibration(ones, ones, 0 * ones, 0 * ones, np.array([0.1])))
    restored = pickle.loads(pickle.dumps(new))
    assert restored.edge_index(1, 2) == 1 and restored.calibration.version == 7


# --------------------------------------------------------------------------- validation


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[last]

    return edit


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("name", _drop("name"), "missing"),
    ("name", _set("name", "has space"), "expected a name"),
    ("colour", _set("colour", "blue"), "unknown key"),
    ("technology", _set("technology", "quantum_dot"), "unknown technology"),
    ("num_qubits", _set("num_qubits", 1), "integer >= 2"),
    ("num_qubits", _set("num_qubits", True), "integer >= 2"),
    ("edges", _set("edges", "ring"), "all_to_all"),
    ("edges[0]", _set("edges", [[1, 1], [1, 2]]), "self-loop"),
    ("edges[1]", _set("edges", [[0, 1], [1, 5]]), "outside the device"),
    ("edges[1]", _set("edges", [[0, 1], [1, 0]]), "duplicate coupling"),
    ("edges[0]", _set("edges", [[0, 1.5], [1, 2]]), "integer qubit indices"),
    ("basis_gates", _set("basis_gates", ["rz", "sx"]), "exactly one two-qubit gate, got 0"),
    ("basis_gates", _set("basis_gates", ["rz", "sx", "cx", "cz"]), "got 2 (cx, cz)"),
    ("basis_gates[1]", _set("basis_gates", ["rz", "magic", "cx"]), "unknown gate 'magic'"),
    ("virtual_gates[0]", _set("virtual_gates", ["ry"]), "one-qubit gate of basis_gates"),
    ("virtual_gates[0]", _set("virtual_gates", ["cx"]), "one-qubit gate of basis_gates"),
    ("virtual_gates", _set("virtual_gates", ["rz", "sx", "x"]), "non-virtual"),
    ("duration_1q_s", _set("duration_1q_s", -1.0), "(0, inf)"),
    ("duration_1q_s", _set("duration_1q_s", [1e-8, 1e-8]), "expected 3 values"),
    ("duration_1q_s[1]", _set("duration_1q_s", [1e-8, "fast", 1e-8]), "expected a number"),
    ("duration_2q_s", _set("duration_2q_s", [1e-7]), "expected 2 values (one per edge)"),
    ("duration_readout_s", _set("duration_readout_s", float("inf")), "(0, inf)"),
    ("shot_overhead_s", _set("shot_overhead_s", -1e-6), "[0, inf)"),
    ("calibration.t1_s", _drop("calibration.t1_s"), "missing"),
    ("calibration.t1_s", _set("calibration.t1_s", [1e-4, 0.0, 1e-4]), "(0, inf] s, got 0"),
    ("calibration.t2_s", _set("calibration.t2_s", None), "expected a number or a list"),
    ("calibration.readout_error", _set("calibration.readout_error", 1.0), "[0, 1), got 1"),
    (
        "calibration.readout_error",
        _set("calibration.readout_error", [0.01, 0.02]),
        "expected 3 values",
    ),
    ("calibration.gate_error_1q", _set("calibration.gate_error_1q", -0.1), "[0, 1)"),
    ("calibration.gate_error_2q", _set("calibration.gate_error_2q", [0.1, 1.5]), "(index 1)"),
    ("calibration.version", _set("calibration.version", -1), "integer >= 0"),
    ("calibration.drift", _set("calibration.drift", 0.1), "unknown key"),
    ("calibration", _set("calibration", [1, 2]), "expected a mapping"),
    ("source", _set("source", ""), "non-empty string"),
    ("source.fake_backend", _set("source", {"fake_backend": "nowhere"}), "unknown fake backend"),
    ("source.url", _set("source", {"url": "x"}), "unknown key"),
    ("synthetic", _set("synthetic", "yes"), "true or false"),
    ("notes", _set("notes", "one note"), "list of strings"),
]


@pytest.mark.parametrize(("key", "edit", "message"), BROKEN, ids=[f"{k}-{m}" for k, _, m in BROKEN])
def test_every_validation_error_names_the_key(
    key: str, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = base()
    edit(data)
    with pytest.raises(QPUSpecError) as info:
        QPUSpec.from_mapping(data, where="toy.yaml")
    assert str(info.value).startswith(f"toy.yaml: {key}: "), str(info.value)
    assert message in str(info.value)
    assert info.value.key == key and info.value.where == "toy.yaml"


def test_direct_construction_validates_too() -> None:
    spec = QPUSpec.from_mapping(base())
    kwargs = {f: getattr(spec, f) for f in spec.__dataclass_fields__}
    with pytest.raises(QPUSpecError, match=r"^edges\[1\]: rows must be sorted"):
        QPUSpec(**{**kwargs, "edges": np.array([[1, 2], [0, 1]])})
    with pytest.raises(QPUSpecError, match=r"^edges\[0\]: not canonical"):
        QPUSpec(**{**kwargs, "edges": np.array([[1, 0], [1, 2]])})
    with pytest.raises(QPUSpecError, match=r"^technology: unknown technology"):
        QPUSpec(**{**kwargs, "technology": "analog"})
    with pytest.raises(QPUSpecError, match=r"^t2_s: must not be NaN"):
        one, nan, zero = np.ones(1), np.full(1, np.nan), np.zeros(1)
        Calibration(one, nan, zero, zero, np.zeros(0))


# --------------------------------------------------------------------------- files


def test_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    text = (CONFIGS / "qpus" / "ionq_aria.yaml").read_text()
    broken = text.replace("readout_error: 0.0063", "readout_error: [" + "0.0063, " * 23 + "0.0063]")
    assert broken != text
    path = tmp_path / "ionq_aria.yaml"
    path.write_text(broken)
    with pytest.raises(QPUSpecError) as info:
        load_qpu(path)
    shown = str(path)
    assert str(info.value) == (
        f"{shown}: calibration.readout_error: expected 25 values (one per qubit), got 24"
    )


def test_missing_file_lists_the_shipped_names() -> None:
    with pytest.raises(QPUSpecError, match=r"not found; available QPUs: ibm_brisbane, ibm_hanoi"):
        load_qpu("ibm_nowhere")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\nname: b\n", r"line 2, column 1: invalid YAML: duplicate key 'name'"),
        ("name: [unclosed\n", r"line 2, column 1: invalid YAML: expected ','"),
        ("", r"empty file"),
        ("- 1\n- 2\n", r"expected a mapping of fields"),
    ],
)
def test_yaml_problems(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(QPUSpecError, match=re.escape(str(path)) + ": " + message):
        load_qpu(str(path))


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, qenv.hardware as h\n"
        "h.from_fake_backend('nairobi'); h.default_fleet()\n"
        "bad = [m for m in ('gymnasium', 'pettingzoo', 'ray', 'qiskit_ibm_runtime') "
        "if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""
