"""Federated averaging: config checks, averaging arithmetic, DP rounds, the RLlib callback.

The RLlib tests train a tiny 3-agent PPO (one module per agent) on RLlib's
MultiAgentCartPole with the callback and check the weights on both sides: in the
Learner and in the EnvRunner's modules (RLlib 2.60 EnvRunners ignore a state whose
``weights_seq_no`` is not newer, so a plain ``sync_weights`` would leave them stale).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("opacus")
pytest.importorskip("ray.rllib")

import ray
from opacus.accountants import RDPAccountant
from ray import cloudpickle
from ray.rllib.callbacks.callbacks import RLlibCallback

from training.federated import (
    FedAvgCallback,
    FedAvgConfig,
    aggregation_weights,
    apply_update,
    architecture_groups,
    federated_round,
    make_fedavg_callback,
    module_update,
    weighted_average,
)
from training.privacy import RDP_ORDERS, DPConfig

# ----------------------------------------------------------------------------- config


def test_config_from_the_yaml_mapping() -> None:
    cfg = FedAvgConfig.from_mapping(
        {
            "every": 5,
            "weighting": "samples",
            "dp": {"clip_norm": 1.0, "noise_multiplier": 1.0, "delta": 1.0e-5},
        }
    )
    assert cfg == FedAvgConfig(every=5, weighting="samples", dp=DPConfig(), seed=0)
    assert FedAvgConfig.from_mapping({}) == FedAvgConfig()
    assert FedAvgConfig.from_mapping({"dp": None, "weighting": "uniform", "seed": 3}) == (
        FedAvgConfig(weighting="uniform", seed=3)
    )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"every": 0}, r"federated\.every: must be an integer >= 1"),
        ({"every": "5"}, r"federated\.every: must be an integer >= 1"),
        ({"every": 2.5}, r"federated\.every: must be an integer >= 1"),
        ({"every": True}, r"federated\.every: must be an integer >= 1"),
        ({"weighting": "median"}, r"federated\.weighting: must be one of samples, uniform"),
        ({"seed": -1}, r"federated\.seed: must be an integer >= 0"),
        ({"rounds": 3}, r"federated\.rounds: unknown key"),
        ({"dp": {"clip_norm": 0}}, r"federated\.dp\.clip_norm: must be > 0"),
        ({"dp": {"noise_multiplier": -1}}, r"federated\.dp\.noise_multiplier: must be >= 0"),
        ({"dp": {"delta": 2}}, r"federated\.dp\.delta: must lie in"),
        ({"dp": 1.0}, r"federated\.dp: must be a mapping"),
    ],
)
def test_config_bad_values_name_the_key(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FedAvgConfig.from_mapping(mapping)


def test_config_where_prefix_and_direct_construction() -> None:
    with pytest.raises(ValueError, match=r"exp\.yaml: federated\.every"):
        FedAvgConfig.from_mapping({"every": -2}, where="exp.yaml: federated")
    with pytest.raises(ValueError, match=r"FedAvgConfig\.weighting"):
        FedAvgConfig(weighting="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"federated: must be a mapping"):
        FedAvgConfig.from_mapping(["every", 5])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- arithmetic


def _module(w: list[float], b: float, steps: int = 0) -> dict[str, np.ndarray]:
    return {
        "w": np.array(w, dtype=np.float32),
        "b": np.array([b], dtype=np.float32),
        "steps": np.array([steps], dtype=np.int64),
    }


def test_weighted_average_by_samples_against_hand_computation() -> None:
    states = {"a": _module([1, 2], 0.0, 1), "b": _module([3, 6], 4.0, 2), "c": _module([0, 0], 8.0)}
    weights = aggregation_weights({"a": 100, "b": 200, "c": 100}, "samples")
    assert weights == {"a": 0.25, "b": 0.5, "c": 0.25}
    avg = weighted_average([states[m] for m in "abc"], [weights[m] for m in "abc"])
    # w: 0.25·[1, 2] + 0.5·[3, 6] + 0.25·[0, 0] = [1.75, 3.5]; b: 0.5·4 + 0.25·8 = 4
    np.testing.assert_allclose(avg["w"], [1.75, 3.5])
    np.testing.assert_allclose(avg["b"], [4.0])
    assert avg["w"].dtype == np.float32
    np.testing.assert_array_equal(avg["steps"], [1])  # integer entries from the first state
    # Unnormalised weights give the same mean.
    again = weighted_average([states[m] for m in "abc"], [1, 2, 1])
    np.testing.assert_allclose(again["w"], avg["w"])


def test_aggregation_weights_uniform_and_fallbacks() -> None:
    assert aggregation_weights({"a": 10, "b": 30}, "uniform") == {"a": 0.5, "b": 0.5}
    assert aggregation_weights({"a": 0, "b": 0}, "samples") == {"a": 0.5, "b": 0.5}
    with pytest.raises(ValueError, match=r"samples\['a'\]"):
        aggregation_weights({"a": -1, "b": 3}, "samples")
    with pytest.raises(ValueError, match="at least one module"):
        aggregation_weights({}, "samples")


def test_weighted_average_rejects_bad_input() -> None:
    a, b = _module([1, 2], 0.0), _module([1, 2, 3], 0.0)
    with pytest.raises(ValueError, match=r"states\[1\]: parameter 'w' has shape"):
        weighted_average([a, b], [1, 1])
    with pytest.raises(ValueError, match="not all zero"):
        weighted_average([a, a], [0, 0])
    with pytest.raises(ValueError, match="2 entries for 1 states"):
        weighted_average([a], [1, 1])


def test_update_and_apply_round_trip() -> None:
    ref, local = _module([1, 1], 1.0, 5), _module([2, 3], 0.5, 9)
    update = module_update(local, ref)
    assert set(update) == {"w", "b"}  # integer entries are not part of the update
    np.testing.assert_allclose(update["w"], [1, 2])
    back = apply_update(ref, update)
    np.testing.assert_allclose(back["w"], local["w"])
    np.testing.assert_array_equal(back["steps"], ref["steps"])


def test_plain_round_is_the_weighted_mean() -> None:
    ref = _module([0, 0], 0.0)
    local = {"a": _module([1, 2], 1.0), "b": _module([3, 6], 3.0)}
    out = federated_round(ref, local, {"a": 0.25, "b": 0.75}, None, np.random.default_rng(0))
    np.testing.assert_allclose(out.global_state["w"], [2.5, 5.0])
    assert out.update_norms["a"] == pytest.approx(math.sqrt(1 + 4 + 1))
    assert out.clipped == {} and out.noise_norms == {}
    # Without a reference the mean is the same (norms unknown).
    no_ref = federated_round(None, local, {"a": 0.25, "b": 0.75}, None, np.random.default_rng(0))
    np.testing.assert_array_equal(no_ref.global_state["w"], out.global_state["w"])
    with pytest.raises(ValueError, match="reference"):
        federated_round(None, local, {"a": 0.5, "b": 0.5}, DPConfig(), np.random.default_rng(0))


def test_dp_round_without_noise_or_clipping_equals_plain_fedavg() -> None:
    rng = np.random.default_rng(5)
    ref = {"w": rng.normal(size=(5, 3)).astype(np.float32)}
    local = {m: {"w": ref["w"] + rng.normal(size=(5, 3)).astype(np.float32)} for m in "abc"}
    weights = {"a": 0.2, "b": 0.3, "c": 0.5}
    off = DPConfig(clip_norm=None, noise_multiplier=0.0)
    dp = federated_round(ref, local, weights, off, np.random.default_rng(0))
    plain = federated_round(ref, local, weights, None, np.random.default_rng(0))
    np.testing.assert_allclose(dp.global_state["w"], plain.global_state["w"], rtol=1e-6, atol=1e-6)
    assert dp.clipped == {"a": False, "b": False, "c": False}


def test_dp_round_clips_each_update_before_averaging() -> None:
    ref = {"w": np.zeros(2)}
    local = {"a": {"w": np.array([3.0, 4.0])}, "b": {"w": np.array([0.3, 0.0])}}  # norms 5, 0.3
    dp = DPConfig(clip_norm=1.0, noise_multiplier=0.0)
    out = federated_round(ref, local, {"a": 0.5, "b": 0.5}, dp, np.random.default_rng(0))
    # a is scaled to [0.6, 0.8]; b stays: global = 0.5·[0.6, 0.8] + 0.5·[0.3, 0] = [0.45, 0.4]
    np.testing.assert_allclose(out.global_state["w"], [0.45, 0.4])
    assert out.clipped == {"a": True, "b": False}
    assert out.update_norms == pytest.approx({"a": 5.0, "b": 0.3})


def test_dp_round_noise_on_the_global_is_sigma_c_over_sqrt_n() -> None:
    """Uniform weights, n agents each adding N(0, (σC)²): the mean carries σC/√n."""
    n, size = 4, 100_000
    ref = {"w": np.zeros(size)}
    local = {f"m{i}": {"w": np.zeros(size)} for i in range(n)}
    dp = DPConfig(clip_norm=0.5, noise_multiplier=2.0)
    weights = aggregation_weights(dict.fromkeys(local, 1.0), "uniform")
    out = federated_round(ref, local, weights, dp, np.random.default_rng(11))
    assert float(np.std(out.global_state["w"])) == pytest.approx(1.0 / math.sqrt(n), rel=0.01)
    assert np.mean(list(out.noise_norms.values())) == pytest.approx(math.sqrt(size), rel=0.01)
    same = federated_round(ref, local, weights, dp, np.random.default_rng(11))
    np.testing.assert_array_equal(same.global_state["w"], out.global_state["w"])


def test_architecture_groups() -> None:
    states = {
        "c1": {"w": np.zeros((2, 3))},
        "a1": {"w": np.zeros((2, 3))},
        "b": {"w": np.zeros((4, 3))},
        "a2": {"w": np.zeros((2, 3))},
        "f": {"w": np.zeros((2, 3), dtype=np.float32)},
    }
    assert architecture_groups(states) == [["a1", "a2", "c1"], ["b"], ["f"]]


def test_make_callback_binds_the_config_and_pickles() -> None:
    cfg = FedAvgConfig(every=3, dp=DPConfig(noise_multiplier=0.8))
    cls = make_fedavg_callback(cfg)
    assert issubclass(cls, RLlibCallback) and issubclass(cls, FedAvgCallback)
    assert cls.fedavg_config == cfg  # type: ignore[attr-defined]
    clone = cloudpickle.loads(cloudpickle.dumps(cls))
    assert clone.fedavg_config == cfg
    assert clone().state.accountant is not None
    with pytest.raises(ValueError, match="FedAvgConfig"):
        make_fedavg_callback({"every": 3})  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- RLlib

N_AGENTS = 3
PARAM = "pi.net.mlp.0.weight"


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    started = not ray.is_initialized()
    if started:
        # address="local": a fresh instance, never a cluster another test started.
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def _build(callback: type[RLlibCallback], *, shared: bool = False, **multi_agent: Any) -> Any:
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole

    ids = ["shared"] if shared else [f"p{i}" for i in range(N_AGENTS)]
    spec = RLModuleSpec(model_config={"fcnet_hiddens": [8]})

    def mapping(agent_id: Any, episode: Any, **kwargs: Any) -> str:
        return "shared" if shared else f"p{agent_id}"

    config = (
        PPOConfig()
        .environment(MultiAgentCartPole, env_config={"num_agents": N_AGENTS})
        .env_runners(num_env_runners=0, rollout_fragment_length=32)
        .training(train_batch_size_per_learner=64, minibatch_size=32, num_epochs=1)
        .multi_agent(policies=set(ids), policy_mapping_fn=mapping, **multi_agent)
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=dict.fromkeys(ids, spec)))
        .callbacks(callback)
        .debugging(seed=0)
    )
    return config.build_algo()


def _learner(algo: Any) -> dict[str, dict[str, np.ndarray]]:
    return algo.learner_group.get_weights()  # type: ignore[no-any-return]


def _env_runner(algo: Any) -> dict[str, dict[str, np.ndarray]]:
    """The EnvRunner's module weights that act (the Learner's inference-only keys).

    With ``num_env_runners=0`` the local EnvRunner holds a full module, but RLlib only
    ever syncs the inference-only part (the critic there is never used).
    """
    inference = algo.learner_group.get_state(components="learner/rl_module", inference_only=True)[
        "learner"
    ]["rl_module"]
    module = algo.env_runner.module
    return {
        m: {k: v for k, v in module[m].get_state().items() if k in inference[m]}
        for m in list(module.keys())
    }


def _assert_identical(states: dict[str, dict[str, np.ndarray]], ids: list[str]) -> None:
    first = states[ids[0]]
    for m in ids[1:]:
        assert states[m].keys() == first.keys()
        for key, value in first.items():
            np.testing.assert_array_equal(states[m][key], value, err_msg=f"{m}/{key}")


def _assert_runner_matches_learner(algo: Any, ids: list[str]) -> None:
    learner, runner = _learner(algo), _env_runner(algo)
    for m in ids:
        for key, value in runner[m].items():
            np.testing.assert_array_equal(value, learner[m][key], err_msg=f"{m}/{key}")


def _opacus_epsilon(sigma: float, rounds: int, delta: float) -> float:
    accountant = RDPAccountant()
    for _ in range(rounds):
        accountant.step(noise_multiplier=sigma, sample_rate=1.0)
    return float(accountant.get_epsilon(delta=delta, alphas=list(RDP_ORDERS)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "dp", [None, DPConfig(clip_norm=None, noise_multiplier=0.0)], ids=["plain", "dp-sigma0"]
)
def test_round_leaves_identical_modules_in_learner_and_env_runner(
    ray_cluster: None, dp: DPConfig | None
) -> None:
    captured: list[dict[str, dict[str, np.ndarray]]] = []
    base = make_fedavg_callback(FedAvgConfig(every=1, dp=dp))

    class Recording(base):  # type: ignore[misc, valid-type]
        def _round(self, algorithm: Any, result: Any) -> dict[str, Any]:
            captured.append(algorithm.learner_group.get_weights())  # the local models
            return super()._round(algorithm, result)  # type: ignore[no-any-return]

    algo = _build(Recording)
    ids = [f"p{i}" for i in range(N_AGENTS)]
    try:
        _assert_identical(_learner(algo), ids)  # common initial model
        _assert_identical(_env_runner(algo), ids)
        for iteration in (1, 2):
            result = algo.train()
            report = result["fedavg"]
            assert report["averaged"] is True
            assert report["rounds"] == iteration and report["modules"] == N_AGENTS
            learner = _learner(algo)
            _assert_identical(learner, ids)
            _assert_identical(_env_runner(algo), ids)
            _assert_runner_matches_learner(algo, ids)
            # The weights are this iteration's sampled steps per module, normalised ...
            sampled = result["env_runners"]["num_module_steps_sampled"]
            total = sum(float(sampled[m]) for m in ids)
            assert report["weights"] == pytest.approx({m: float(sampled[m]) / total for m in ids})
            # ... and the global model is the weighted mean of the local models.
            local = captured[-1]
            assert not np.array_equal(local["p0"][PARAM], local["p1"][PARAM])  # they trained
            expected = sum(report["weights"][m] * local[m][PARAM].astype(np.float64) for m in ids)
            np.testing.assert_allclose(learner["p0"][PARAM], expected, rtol=1e-5, atol=1e-6)
            if dp is None:
                assert report["epsilon"] is None and report["delta"] is None
            else:
                assert report["epsilon"] == math.inf and report["delta"] == dp.delta
    finally:
        algo.stop()


@pytest.mark.slow
def test_dp_rounds_epsilon_and_resume_from_checkpoint(ray_cluster: None, tmp_path: Path) -> None:
    from ray.rllib.algorithms.algorithm import Algorithm

    dp = DPConfig(clip_norm=0.5, noise_multiplier=1.0, delta=1e-5)
    callback = make_fedavg_callback(FedAvgConfig(every=2, dp=dp, seed=7))
    algo = _build(callback, policies_to_train=["p0", "p1"])  # p2 is frozen: never averaged
    try:
        frozen = _learner(algo)["p2"][PARAM].copy()
        first = algo.train()["fedavg"]
        assert first["averaged"] is False and first["rounds"] == 0
        assert first["epsilon"] == 0.0 and first["next_round_at"] == 2
        second = algo.train()["fedavg"]
        assert second["averaged"] is True and second["rounds"] == 1
        assert second["modules"] == 2 and second["modules_total"] == N_AGENTS
        assert second["epsilon"] > 0
        assert second["epsilon"] == pytest.approx(_opacus_epsilon(1.0, 1, 1e-5))
        assert second["delta"] == 1e-5
        assert 0.0 <= second["clip_fraction"] <= 1.0 and second["mean_update_norm"] > 0
        _assert_identical(_learner(algo), ["p0", "p1"])
        _assert_identical(_env_runner(algo), ["p0", "p1"])
        _assert_runner_matches_learner(algo, ["p0", "p1", "p2"])
        np.testing.assert_array_equal(_learner(algo)["p2"][PARAM], frozen)
        assert not np.array_equal(_learner(algo)["p0"][PARAM], frozen)

        saved = algo.callbacks[0].state
        algo.save_to_path(tmp_path)
        reference = {k: v.copy() for k, v in saved.reference["p0"].items()}
    finally:
        algo.stop()

    # Algorithm.from_checkpoint: the bound callback class comes back from the checkpoint.
    loaded = Algorithm.from_checkpoint(tmp_path)
    try:
        state = loaded.callbacks[0].state
        assert loaded.training_iteration == 2
        assert state.rounds == 1 and state.groups == [["p0", "p1"]]
        assert state.accountant.epsilon(1e-5) == pytest.approx(second["epsilon"])
        for key, value in reference.items():
            np.testing.assert_array_equal(state.reference["p0"][key], value)
    finally:
        loaded.stop()

    # qenv train --resume: a freshly built algorithm restores the checkpoint in place.
    restored = _build(callback, policies_to_train=["p0", "p1"])
    try:
        restored.restore_from_path(tmp_path)
        state = restored.callbacks[0].state
        assert restored.training_iteration == 2
        assert state.rounds == 1
        assert state.accountant.epsilon(1e-5) == pytest.approx(second["epsilon"])
        for key, value in reference.items():
            np.testing.assert_array_equal(state.reference["p0"][key], value)
        # The checkpoint was taken right after a round: the modules hold the reference.
        np.testing.assert_array_equal(_learner(restored)["p0"][PARAM], reference[PARAM])
        np.testing.assert_array_equal(_env_runner(restored)["p1"][PARAM], reference[PARAM])
        third = restored.train()["fedavg"]
        assert third["averaged"] is False and third["rounds"] == 1
        fourth = restored.train()["fedavg"]
        assert fourth["averaged"] is True and fourth["rounds"] == 2
        assert fourth["epsilon"] == pytest.approx(_opacus_epsilon(1.0, 2, 1e-5))
        assert fourth["epsilon"] > second["epsilon"]
        _assert_identical(_env_runner(restored), ["p0", "p1"])
        _assert_runner_matches_learner(restored, ["p0", "p1", "p2"])
    finally:
        restored.stop()


@pytest.mark.slow
def test_single_shared_module_is_left_alone(ray_cluster: None) -> None:
    callback = make_fedavg_callback(FedAvgConfig(every=1, dp=DPConfig()))
    algo = _build(callback, shared=True)
    try:
        report = algo.train()["fedavg"]
        assert report["averaged"] is False and report["modules"] == 0
        assert report["modules_total"] == 1 and "single module" in report["note"]
        assert report["epsilon"] is None and report["rounds"] == 0
    finally:
        algo.stop()
