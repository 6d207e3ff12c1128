"""Tests of qenv.tasks.workload: arrivals, task batches, workloads and their YAML files."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qenv.tasks import (
    TASK_COLUMNS,
    BurstyArrivals,
    Categorical,
    CircuitLibrary,
    FamilySpec,
    PoissonArrivals,
    TaskBatch,
    Workload,
    WorkloadError,
    ghz,
    load_workload,
    qft,
    workload_names,
)
from qenv.tasks.workload import NOMINAL_JOB_OVERHEAD_S

REPO = Path(__file__).resolve().parents[1]
CIRCUITS = REPO / "configs" / "circuits"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def window_counts(times: np.ndarray, duration: float, window: float) -> np.ndarray:
    n = int(duration // window)
    return np.bincount((times // window).astype(np.int64), minlength=n)[:n]


@pytest.fixture(scope="module")
def small_library() -> CircuitLibrary:
    specs = [
        FamilySpec("ghz", 1.0, (3, 5)),
        FamilySpec("qft", 1.0, (3, 4), instances=2),
        FamilySpec("qaoa_maxcut", 1.0, (4,), instances=3, kwargs={"p": 1}),
    ]
    return CircuitLibrary.build(specs, rng(0))


# --------------------------------------------------------------------------- arrivals


def test_poisson_rate_and_dispersion() -> None:
    rate, duration, n_gw = 2.0, 5000.0, 4
    times, gateway = PoissonArrivals(rate).sample(duration, n_gw, rng(1))
    expected = rate * duration * n_gw
    assert abs(times.size - expected) < 4 * math.sqrt(expected)  # within 4 standard errors
    per_gateway = np.bincount(gateway, minlength=n_gw)
    assert np.all(np.abs(per_gateway - rate * duration) < 4 * math.sqrt(rate * duration))
    assert times.min() >= 0 and times.max() < duration
    counts = window_counts(times[gateway == 0], duration, 5.0)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.1)
    gaps = np.diff(np.sort(times[gateway == 1]))
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.05)
    assert gaps.std() == pytest.approx(1 / rate, rel=0.05)  # exponential: std = mean


def test_bursty_mean_rate_and_over_dispersion() -> None:
    proc = BurstyArrivals(
        calm_rate_per_s=0.5, burst_rate_per_s=3.0, mean_calm_s=60.0, mean_burst_s=15.0
    )
    assert proc.burst_fraction == pytest.approx(0.2)
    assert proc.mean_rate == pytest.approx(1.0)
    duration, n_gw, window = 6000.0, 200, 30.0
    times, gateway = proc.sample(duration, n_gw, rng(2))
    assert times.min() >= 0 and times.max() < duration
    # The counts of a gateway over the whole run have variance 2 C (T/s - (1 - e^{-sT})/s²)
    # + λ̄T (C = π_c π_b Δλ², s = switching rate sum), so compare the mean with that.
    r_c, r_b = 1 / 60.0, 1 / 15.0
    s = r_c + r_b
    cov = r_c * r_b / s**2 * (3.0 - 0.5) ** 2
    var_total = duration + 2 * cov * (duration / s - (1 - math.exp(-s * duration)) / s**2)
    assert abs(times.size / n_gw - duration) < 4 * math.sqrt(var_total / n_gw)
    # Index of dispersion of window counts: 1 + 2 r_c r_b Δλ² / (s³ λ̄) (1 - (1 - e^{-st})/(st))
    # (MMPP-2, Heffes & Lucantoni 1986).
    idc = np.mean(
        [
            window_counts(times[gateway == g], duration, window).var(ddof=1)
            / window_counts(times[gateway == g], duration, window).mean()
            for g in range(n_gw)
        ]
    )
    st = s * window
    theory = 1 + 2 * r_c * r_b * 2.5**2 / (s**3 * 1.0) * (1 - (1 - math.exp(-st)) / st)
    assert theory > 5
    assert idc == pytest.approx(theory, rel=0.05)
    poisson_like = BurstyArrivals(1.0, 1.0, 10.0, 10.0).sample(duration, 20, rng(3))
    counts = window_counts(poisson_like[0][poisson_like[1] == 0], duration, window)
    assert counts.var() / counts.mean() < 1.5  # equal rates: no over-dispersion


def test_arrivals_validate_and_handle_empty_runs() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        PoissonArrivals(-1.0)
    with pytest.raises(ValueError, match="mean_burst_s"):
        BurstyArrivals(0.5, 3.0, 60.0, 0.0)
    with pytest.raises(ValueError, match="n_gateways"):
        PoissonArrivals(1.0).sample(10.0, 0, rng())
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
        PoissonArrivals(1.0).sample(10.0, 1, 0)  # type: ignore[arg-type]
    times, gateway = BurstyArrivals(0.5, 3.0, 60.0, 15.0).sample(0.0, 3, rng())
    assert times.size == gateway.size == 0


# --------------------------------------------------------------------------- task batch


def ints(value: int, n: int) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    return np.full(n, value, dtype=np.int64)


def batch_of(arrival: list[float], deadline: list[float] | None = None) -> TaskBatch:
    n = len(arrival)
    return TaskBatch(
        np.array(arrival),
        np.arange(n) % 2,
        np.zeros(n, dtype=np.int64),
        np.full(n, 100),
        np.ones(n, dtype=np.int64),
        np.array(deadline if deadline is not None else [a + 10 for a in arrival]),
    )


def test_task_batch_sorts_slices_and_filters() -> None:
    b = batch_of([3.0, 1.0, 2.0, 2.0, 5.0])
    assert len(b) == 5
    np.testing.assert_array_equal(b.arrival_s, [1.0, 2.0, 2.0, 3.0, 5.0])
    np.testing.assert_array_equal(b.gateway, [1, 0, 1, 0, 0])  # stable: ties keep input order
    assert all(not getattr(b, c).flags.writeable for c in TASK_COLUMNS)
    assert b.arrival_s.dtype == np.float64 and b.circuit.dtype == np.int64
    s = b.slice(2.0, 5.0)  # [t0, t1)
    np.testing.assert_array_equal(s.arrival_s, [2.0, 2.0, 3.0])
    assert len(b.slice(6.0, 9.0)) == 0
    g = b.for_gateway(1)
    np.testing.assert_array_equal(g.arrival_s, [1.0, 2.0])
    np.testing.assert_array_equal(g.gateway, [1, 1])
    parts = [b.slice(0.0, 2.0), b.slice(2.0, 4.0), b.slice(4.0, 10.0)]
    assert sum(len(p) for p in parts) == len(b)
    assert b == batch_of([3.0, 1.0, 2.0, 2.0, 5.0]) and b != batch_of([1.0])
    assert len(TaskBatch.empty()) == 0


def test_task_batch_rejects_bad_rows() -> None:
    with pytest.raises(ValueError, match="deadline_s must be >= arrival_s"):
        batch_of([1.0, 2.0], [5.0, 1.0])
    with pytest.raises(ValueError, match="arrival_s must be finite"):
        batch_of([-1.0])
    with pytest.raises(ValueError, match="gateway must be 1-D with 2 rows"):
        TaskBatch(np.zeros(2), ints(0, 3), ints(0, 2), ints(1, 2), ints(1, 2), np.ones(2))
    with pytest.raises(ValueError, match="shots must be >= 1"):
        TaskBatch(np.zeros(1), ints(0, 1), ints(0, 1), ints(0, 1), ints(1, 1), np.ones(1))


# --------------------------------------------------------------------------- workload


def test_library_indices_and_names(small_library: CircuitLibrary) -> None:
    lib = small_library
    assert len(lib) == 2 + 4 + 3
    assert lib.families == ("ghz", "qft", "qaoa_maxcut")
    np.testing.assert_array_equal(lib.indices("qft"), [2, 3, 4, 5])
    assert lib.indices("vqe").size == 0
    assert [c.name for c in lib][:2] == ["ghz_n3_s0", "ghz_n5_s0"]
    assert [c.name.rsplit("_", 1)[1] for c in lib][6:] == ["s0", "s1", "s2"]
    assert len(set(lib.keys)) == len(lib)  # distinct instances
    np.testing.assert_array_equal(lib.num_qubits, [3, 5, 3, 3, 4, 4, 4, 4, 4])
    assert np.all(lib.nominal_shot_s > 250e-6) and np.all(lib.nominal_shot_s < 300e-6)


def test_generate_is_sorted_deterministic_and_follows_the_distributions(
    small_library: CircuitLibrary,
) -> None:
    wl = Workload(
        small_library,
        PoissonArrivals(2.0),
        family_weights={"ghz": 1.0, "qft": 3.0, "qaoa_maxcut": 0.0},
        shots=Categorical(np.array([1000, 4000]), np.array([0.75, 0.25])),
        priority=Categorical(np.array([1, 2, 3]), np.array([0.2, 0.3, 0.5])),
        deadline_slack=(5.0, 20.0),
    )
    b = wl.generate(2000.0, 3, rng(5))
    assert b == wl.generate(2000.0, 3, rng(5))  # one seed, one batch
    assert b != wl.generate(2000.0, 3, rng(6))
    n = len(b)
    assert abs(n - 2.0 * 2000 * 3) < 4 * math.sqrt(2.0 * 2000 * 3)
    assert np.all(np.diff(b.arrival_s) >= 0)
    assert np.all(b.deadline_s > b.arrival_s)
    family = small_library.family_index[b.circuit]
    share = np.bincount(family, minlength=3) / n
    assert share[2] == 0  # weight 0
    assert share[1] == pytest.approx(0.75, abs=4 * math.sqrt(0.75 * 0.25 / n))
    # Instances within a family are uniform.
    qft_counts = np.bincount(b.circuit[family == 1], minlength=6)[2:]
    assert np.all(np.abs(qft_counts / qft_counts.sum() - 0.25) < 0.03)
    assert np.mean(b.shots == 4000) == pytest.approx(0.25, abs=0.02)
    np.testing.assert_allclose(np.bincount(b.priority)[1:] / n, [0.2, 0.3, 0.5], atol=0.02)
    slack = (b.deadline_s - b.arrival_s) / wl.nominal_runtime_s(b.circuit, b.shots)
    assert slack.min() >= 5.0 and slack.max() <= 20.0
    assert slack.mean() == pytest.approx(12.5, abs=0.2)
    assert set(np.unique(b.gateway)) == {0, 1, 2}
    np.testing.assert_array_equal(b.for_gateway(2).gateway, 2)


def test_nominal_runtime_and_its_mean(small_library: CircuitLibrary) -> None:
    wl = Workload(small_library, PoissonArrivals(1.0), shots=Categorical.constant(1000))
    c = 0  # ghz_n3: depth 4
    expected = NOMINAL_JOB_OVERHEAD_S + 1000 * (250e-6 + 4 * 0.4e-6 + 4e-6)
    assert wl.nominal_runtime_s(c, 1000) == pytest.approx(expected)
    probs = wl.circuit_probabilities()
    assert probs.sum() == pytest.approx(1.0)
    assert probs[0] == pytest.approx(1 / 3 / 2)  # equal family weights, 2 ghz circuits
    b = wl.generate(20000.0, 2, rng(8))
    empirical = wl.nominal_runtime_s(b.circuit, b.shots).mean()
    assert empirical == pytest.approx(wl.mean_nominal_runtime_s(), rel=0.01)


def test_per_gateway_arrivals_and_no_deadlines(small_library: CircuitLibrary) -> None:
    wl = Workload(
        small_library,
        (PoissonArrivals(0.5), PoissonArrivals(4.0)),
        deadline_slack=None,
    )
    assert wl.n_gateways == 2 and wl.mean_rate_per_gateway == pytest.approx(2.25)
    b = wl.generate(4000.0, 2, rng(9))
    per_gateway = np.bincount(b.gateway, minlength=2)
    assert abs(per_gateway[0] - 2000) < 4 * math.sqrt(2000)
    assert abs(per_gateway[1] - 16000) < 4 * math.sqrt(16000)
    assert np.all(np.isinf(b.deadline_s))
    with pytest.raises(ValueError, match="per-gateway arrivals for 2 gateways"):
        wl.generate(10.0, 3, rng())


def test_workload_validation(small_library: CircuitLibrary) -> None:
    with pytest.raises(ValueError, match="no vqe circuit"):
        Workload(small_library, PoissonArrivals(1.0), family_weights={"vqe": 1.0})
    with pytest.raises(ValueError, match="weight > 0"):
        Workload(small_library, PoissonArrivals(1.0), family_weights={"ghz": 0.0})
    with pytest.raises(ValueError, match="deadline_slack"):
        Workload(small_library, PoissonArrivals(1.0), deadline_slack=(5.0, 1.0))
    with pytest.raises(ValueError, match="probs must sum to 1"):
        Categorical(np.array([1, 2]), np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="instances must be 1 for ghz"):
        FamilySpec("ghz", 1.0, (3,), instances=2)
    lib = CircuitLibrary((ghz(3), qft(3, rng=rng())))
    assert lib.families == ("ghz", "qft")


# --------------------------------------------------------------------------- YAML files


@pytest.mark.parametrize("name", ["default", "qaoa_only", "bursty"])
def test_shipped_workloads_load(name: str) -> None:
    assert name in workload_names()
    wl = load_workload(name, seed=0)
    assert wl.name == name and wl.description
    assert 24 <= len(wl.library) <= 48
    assert wl.library.num_qubits.max() <= 16
    # The load estimate written in each file: 4 gateways against ~4 superconducting QPUs.
    utilisation = 4 * wl.mean_rate_per_gateway * wl.mean_nominal_runtime_s() / 4
    assert 0.5 < utilisation < 0.7
    b = wl.generate(600.0, 4, rng(1))
    assert len(b) > 0 and np.all(np.diff(b.arrival_s) >= 0)
    assert np.all(b.deadline_s > b.arrival_s)
    assert b.circuit.max() < len(wl.library)


def test_default_workload_content_and_seed() -> None:
    wl = load_workload("default", seed=0)
    assert set(wl.library.families) == {"vqe", "qaoa_maxcut", "qaoa_tsp", "ghz", "qft", "qasm"}
    files = [c.name for c in wl.library if c.family == "qasm"]
    assert [Path(f).name for f in files] == ["ghz3.qasm", "qft4.qasm", "adder4.qasm"]
    assert all(Path(f).is_absolute() and Path(f).is_file() for f in files)
    assert isinstance(load_workload("bursty").arrivals, BurstyArrivals)
    assert load_workload("default", seed=0).library.keys == wl.library.keys
    other = load_workload("default", seed=1).library
    random_family = [c.family not in ("ghz", "qasm") for c in wl.library]
    changed = [a != b for a, b in zip(wl.library.keys, other.keys, strict=True)]
    assert all(c for c, r in zip(changed, random_family, strict=True) if r)
    assert not any(c for c, r in zip(changed, random_family, strict=True) if not r)


VALID = """\
description: test
families:
  qaoa_maxcut: {weight: 1.0, sizes: [4], instances: 2, p: 1}
  qasm: {weight: 0.5, files: [CIRCUITS/ghz3.qasm]}
arrivals: {kind: poisson, rate: 1.0}
shots: {values: [100, 200], probs: [0.5, 0.5]}
deadline_slack: 20
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(text.replace("CIRCUITS", str(CIRCUITS)))
    return path


def test_load_from_path(tmp_path: Path) -> None:
    wl = load_workload(write(tmp_path, VALID), seed=3)
    assert wl.name == "w" and len(wl.library) == 3
    assert wl.deadline_slack == (20.0, 20.0)
    assert set(wl.shots.values.tolist()) == {100, 200}
    assert wl.priority.values.tolist() == [1, 2, 3]  # default


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight: 1.0, sizes", "weight: -1, sizes", "families.qaoa_maxcut.weight: must be >= 0"),
        ("p: 1}", "p: 1, colour: red}", "families.qaoa_maxcut.colour: unknown key 'colour'"),
        ("sizes: [4]", "sizes: [4, 1]", "families.qaoa_maxcut.sizes[1]: must be >= 2"),
        ("qaoa_maxcut:", "grover:", "families.grover: unknown key 'grover'"),
        ("kind: poisson", "kind: poison", "arrivals.kind: must be one of poisson, bursty"),
        ("rate: 1.0", "rate: fast", "arrivals.rate: must be a number, got 'fast'"),
        ("probs: [0.5, 0.5]", "probs: [0.5, 0.6]", "shots.probs: must sum to 1"),
        ("values: [100, 200]", "values: [0, 200]", "shots.values[0]: must be >= 1"),
        ("deadline_slack: 20", "deadline_slack: [20, 5]", "deadline_slack[1]: must be >= 20"),
        ("files: [CIRCUITS/ghz3.qasm]", "files: [nope.qasm]", "families.qasm.files[0]: "),
        ("description: test", "description: [1]", "description: must be a string"),
        ("arrivals: {kind: poisson, rate: 1.0}\n", "", "arrivals: missing required key"),
        ("p: 1}", "p: 1, edge_prob: 0.001}", "families.qaoa_maxcut: edge_prob=0.001 gave no"),
    ],
)
def test_validation_errors_name_the_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new))
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_vqe_and_ghz_specific_errors(tmp_path: Path) -> None:
    text = "families:\n  vqe: {weight: 1, sizes: [h2, h3]}\narrivals: {kind: poisson, rate: 1}\n"
    with pytest.raises(WorkloadError, match=r"families\.vqe\.sizes\[1\]: must be one of h2, lih"):
        load_workload(write(tmp_path, text))
    text = (
        "families:\n  ghz: {weight: 1, sizes: [3], instances: 2}\n"
        "arrivals: {kind: poisson, rate: 1}\n"
    )
    with pytest.raises(WorkloadError, match=r"families\.ghz\.instances: ghz circuits are deter"):
        load_workload(write(tmp_path, text))


def test_qasm_file_error_keeps_the_parser_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.qasm"
    bad.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0]; @\n')
    text = VALID.replace("CIRCUITS/ghz3.qasm", "bad.qasm")
    with pytest.raises(WorkloadError) as info:
        load_workload(write(tmp_path, text))
    assert f"families.qasm.files[0]: {bad}:4:9: " in str(info.value)


def test_yaml_syntax_and_lookup_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dup = VALID.replace("shots:", "arrivals: {kind: poisson, rate: 2.0}\nshots:")
    with pytest.raises(WorkloadError, match=r"line 6, column 1: invalid YAML: duplicate key"):
        load_workload(write(tmp_path, dup))
    with pytest.raises(WorkloadError, match=r"not found; available workloads: .*default"):
        load_workload("nope")
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "mine.yaml").write_text(VALID.replace("CIRCUITS", str(CIRCUITS)))
    monkeypatch.setenv("QENV_CONFIG_DIR", str(tmp_path))
    assert workload_names() == ("mine",)
    assert len(load_workload("mine").library) == 3
    text = VALID.replace("rate: 1.0", "rate: 1e-3")  # YAML 1.2 float, not a string
    assert load_workload(write(tmp_path, text)).mean_rate_per_gateway == pytest.approx(1e-3)


# --------------------------------------------------------------------------- layering


def test_import_does_not_pull_rl_frameworks() -> None:
    code = (
        "import sys, qenv.tasks; qenv.tasks.load_workload('default'); "
        "bad = [m for m in ('gymnasium', 'pettingzoo', 'ray', 'torch') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"
