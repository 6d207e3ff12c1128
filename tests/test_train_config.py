"""Training stack without Ray running: experiment files, module mapping, masking, CLI, progress."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from training.config import (
    Experiment,
    apply_overrides,
    load_experiment,
    parse_experiment,
    write_experiment,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHIPPED = ("dpem_quick", "dpem_100", "ahmo_default")
MINIMAL: dict[str, Any] = {"name": "t", "env": {"id": "EntanglementAllocation-v0"}}


def write(tmp_path: Path, data: Any, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


# ---------------------------------------------------------------------- experiment files
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_experiments_validate_and_round_trip(name: str, tmp_path: Path) -> None:
    exp = load_experiment(CONFIGS / f"{name}.yaml")
    assert exp.name == name
    out = tmp_path / "resolved.yaml"
    write_experiment(exp, out, header="resolved")
    assert out.read_text().startswith("# resolved\n")
    assert load_experiment(out) == exp


def test_quick_experiment_has_federated_averaging_and_dp() -> None:
    exp = load_experiment(CONFIGS / "dpem_quick.yaml")
    fed = exp.fedavg()
    assert fed is not None and fed.dp is not None
    assert fed.seed == exp.seed  # the DP noise seed defaults to the run's seed
    assert exp.policies != "shared"  # averaging needs more than one module


def test_defaults_fill_a_minimal_experiment() -> None:
    exp = parse_experiment(MINIMAL)
    assert exp.policies == "per_agent" and exp.federated is None and exp.fedavg() is None
    assert exp.ppo.lambda_ == 0.95 and exp.to_yaml_dict()["ppo"]["lambda"] == 0.95
    assert exp.env.env_kwargs() == {}
    sc = parse_experiment({**MINIMAL, "env": {**MINIMAL["env"], "scenario": "mesh8"}})
    assert sc.env.env_kwargs() == {"scenario": "mesh8"}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"ppo": {"lr": -1}}, r"ppo\.lr: Input should be greater than 0"),
        ({"ppo": {"bogus": 1}}, r"ppo\.bogus: Extra inputs are not permitted"),
        ({"ppo": {"gamma": 1.5}}, r"ppo\.gamma"),
        ({"env": {"id": "Nope-v0"}}, r"env\.id: unknown environment 'Nope-v0'"),
        ({"policies": "everyone"}, r"policies: Input should be"),
        ({"stop": {"iters": None}}, r"stop: give at least one of"),
        ({"resources": {"num_env_runners": -1}}, r"resources\.num_env_runners"),
        ({"federated": {"every": 0}}, r"federated\.every: must be an integer >= 1"),
        ({"federated": {"dp": {"clip_norm": -1.0}}}, r"federated\.dp\.clip_norm"),
        ({"federated": {"weighting": "votes"}}, r"federated\.weighting"),
        ({"edge_clouds": 3}, r"edge_clouds is only used with policies: per_edge_cloud"),
        ({"name": "has space"}, r"name: String should match pattern"),
    ],
)
def test_bad_values_name_the_file_and_key(
    tmp_path: Path, patch: dict[str, Any], message: str
) -> None:
    data = {**MINIMAL, **patch}
    if "env" in patch:
        data["env"] = patch["env"]
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=rf"^{path}: .*{message}"):
        load_experiment(path)


def test_per_edge_cloud_needs_the_network_env(tmp_path: Path) -> None:
    path = write(
        tmp_path, {**MINIMAL, "env": {"id": "QPUAllocation-v0"}, "policies": "per_edge_cloud"}
    )
    with pytest.raises(ValueError, match=r"per_edge_cloud needs env\.id EntanglementAllocation-v0"):
        load_experiment(path)


def test_scenario_given_twice_is_an_error(tmp_path: Path) -> None:
    env = {"id": "EntanglementAllocation-v0", "scenario": "mesh8", "kwargs": {"scenario": "dpem"}}
    with pytest.raises(ValueError, match=r"env: .*give the scenario once"):
        load_experiment(write(tmp_path, {**MINIMAL, "env": env}))


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--config: no experiment file"):
        load_experiment(tmp_path / "missing.yaml")
    bad = write(tmp_path, "name: t\nenv: {id: [\n")
    with pytest.raises(ValueError, match=rf"{bad}: line \d+ not valid YAML"):
        load_experiment(bad)
    with pytest.raises(ValueError, match=r"an experiment is a YAML mapping"):
        load_experiment(write(tmp_path, "- 1\n- 2\n", "list.yaml"))


def test_overrides_are_applied_and_revalidated() -> None:
    exp = parse_experiment(MINIMAL)
    got = apply_overrides(exp, {"stop.iters": 3, "resources.num_env_runners": 0}, "cli")
    assert got.stop.iters == 3 and got.resources.num_env_runners == 0
    assert exp.stop.iters == 100  # the original is unchanged (frozen)
    with pytest.raises(ValueError, match=r"^cli: stop\.iters: Input should be greater than 0"):
        apply_overrides(exp, {"stop.iters": 0}, "cli")


# ---------------------------------------------------------------------- module mapping
def mapping(policies: str, **extra: Any) -> tuple[dict[str, str], Any]:
    from training.algo import make_env, module_mapping

    env_section = {"id": "EntanglementAllocation-v0", "scenario": "mesh8"}
    env_section.update(extra.pop("env", {}))
    exp = parse_experiment({**MINIMAL, "env": env_section, "policies": policies, **extra})
    env = make_env(exp)
    return module_mapping(exp, env), env


def test_per_agent_and_shared_mappings() -> None:
    table, env = mapping("per_agent")
    assert table == {a: a for a in env.possible_agents} and len(table) == 8
    table, _ = mapping("shared")
    assert set(table.values()) == {"shared"} and len(table) == 8


def test_per_edge_cloud_maps_nodes_to_their_regions() -> None:
    from qenv.envs.entanglement.regions import voronoi_regions

    table, env = mapping("per_edge_cloud", edge_clouds=3)
    regions = voronoi_regions(env.par_env.unwrapped.core.graph, 3)
    assert sorted(set(table.values())) == ["cloud_0", "cloud_1", "cloud_2"]
    for c, members in enumerate(regions):
        assert {a for a, m in table.items() if m == f"cloud_{c}"} == {f"node_{n}" for n in members}
    # Edge-cloud agents already are regions: one module each.
    table, env = mapping(
        "per_edge_cloud", env={"kwargs": {"agents_per": "edge_cloud", "n_edge_clouds": 2}}
    )
    assert table == {"cloud_0": "cloud_0", "cloud_1": "cloud_1"}
    with pytest.raises(ValueError, match="edge_clouds: at most the 8 nodes"):
        mapping("per_edge_cloud", edge_clouds=9)


def test_unknown_env_kwargs_are_reported() -> None:
    with pytest.raises(ValueError, match=r"env\.kwargs"):
        mapping("shared", env={"kwargs": {"bogus": 1}})


def test_ppo_config_has_one_masked_module_per_mapped_id() -> None:
    from training.algo import build_ppo_config
    from training.module import MaskedPPOTorchRLModule

    exp = parse_experiment(
        {
            **MINIMAL,
            "env": {"id": "EntanglementAllocation-v0", "scenario": "mesh8"},
            "policies": "per_edge_cloud",
            "edge_clouds": 2,
            "ppo": {"train_batch_size": 800},
            "federated": {"every": 2},
        }
    )
    config, table = build_ppo_config(exp)
    specs = config.rl_module_spec.rl_module_specs
    assert set(specs) == set(table.values()) == {"cloud_0", "cloud_1"}
    assert all(s.module_class is MaskedPPOTorchRLModule for s in specs.values())
    assert config.train_batch_size_per_learner == 800 and config.seed == exp.seed
    assert config.callbacks_class[0].__name__ == "EnvMetricsCallback"
    assert len(config.callbacks_class) == 2  # env metrics + FedAvg
    assert config.policy_mapping_fn("node_0") == table["node_0"]


# ---------------------------------------------------------------------- action masking
def module(action_space: Any, width: int = 5) -> Any:
    from gymnasium import spaces

    from training.module import MaskedPPOTorchRLModule

    size = int(np.sum(action_space.nvec)) if hasattr(action_space, "nvec") else action_space.n
    obs = spaces.Dict(
        {
            "observation": spaces.Box(0.0, 1.0, (width,), np.float32),
            "action_mask": spaces.Box(0, 1, (size,), np.int8),
        }
    )
    return MaskedPPOTorchRLModule(
        observation_space=obs, action_space=action_space, model_config={"fcnet_hiddens": [8]}
    )


def test_masked_actions_are_never_chosen_or_sampled() -> None:
    import torch
    from gymnasium import spaces
    from ray.rllib.core.columns import Columns
    from ray.rllib.utils.torch_utils import FLOAT_MIN

    m = module(spaces.Discrete(4))
    torch.manual_seed(0)
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1]] * 50, dtype=torch.int8)
    batch = {Columns.OBS: {"observation": torch.rand(100, 5), "action_mask": mask}}
    for forward in (m.forward_exploration, m.forward_inference, m.forward_train):
        logits = forward(dict(batch))[Columns.ACTION_DIST_INPUTS]
        assert torch.all(logits[mask == 0] == FLOAT_MIN)
        assert torch.all(logits[mask == 1] > FLOAT_MIN)
    dist = m.get_exploration_action_dist_cls().from_logits(logits)
    samples = torch.stack([dist.sample() for _ in range(50)])
    assert torch.all(mask.gather(1, samples.T.long())[:, :] == 1)
    # The value head reads the observation without the mask.
    assert m.compute_values(dict(batch)).shape == (100,)
    # The caller's batch is not modified.
    assert set(batch[Columns.OBS]) == {"observation", "action_mask"}


def test_multidiscrete_masks_each_member() -> None:
    import torch
    from gymnasium import spaces
    from ray.rllib.core.columns import Columns

    m = module(spaces.MultiDiscrete([3, 3]))
    mask = torch.tensor([[1, 0, 1, 0, 1, 0]] * 20, dtype=torch.int8)
    out = m.forward_exploration(
        {Columns.OBS: {"observation": torch.rand(20, 5), "action_mask": mask}}
    )
    dist = m.get_exploration_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
    actions = torch.stack([dist.sample() for _ in range(30)])  # (30, 20, 2)
    assert set(actions[..., 0].unique().tolist()) <= {0, 2}
    assert set(actions[..., 1].unique().tolist()) <= {1}


def test_module_needs_a_dict_observation() -> None:
    from gymnasium import spaces

    from training.module import MaskedPPOTorchRLModule

    with pytest.raises(ValueError, match="observation_space: MaskedPPOTorchRLModule needs a Dict"):
        MaskedPPOTorchRLModule(
            observation_space=spaces.Box(0, 1, (3,)), action_space=spaces.Discrete(2)
        )


# ---------------------------------------------------------------------- RLlib env adapter
def test_rllib_env_adapter_follows_the_parallel_env() -> None:
    from training.env import RLlibParallelEnv, episode_summary

    env = RLlibParallelEnv("EntanglementAllocation-v0", {"scenario": "mesh8", "horizon": 3})
    assert env.possible_agents == [f"node_{i}" for i in range(8)]
    assert set(env.observation_spaces) == set(env.action_spaces) == set(env.possible_agents)
    obs, _ = env.reset(seed=0)
    assert list(obs) == env.agents == env.possible_agents
    for t in range(3):
        obs, _, term, trunc, infos = env.step(dict.fromkeys(env.agents, 0))
        assert term["__all__"] is False and trunc["__all__"] is (t == 2)
    assert env.agents == [] and "delivery_rate" in infos["node_0"]["episode"]

    class Episode:
        def get_infos(self, index: int) -> dict[str, Any]:
            return infos

    summary = episode_summary(Episode())
    assert summary is not None and summary == infos["node_0"]["episode"]


# ---------------------------------------------------------------------- command line
def train_args(*argv: str) -> argparse.Namespace:
    from qenv.cli import build_parser

    return build_parser().parse_args(["train", *argv])


def test_train_flags_use_rllib_names_and_map_to_experiment_keys() -> None:
    from training.cli import overrides_from_args

    args = train_args(
        "--config",
        "x.yaml",
        "--stop-iters",
        "3",
        "--stop-timesteps",
        "100",
        "--stop-reward",
        "1.5",
        "--num-env-runners",
        "0",
        "--num-envs-per-env-runner",
        "2",
        "--num-learners",
        "0",
        "--checkpoint-freq",
        "2",
        "--no-checkpoint-at-end",
        "--num-cpus",
        "2",
        "--num-gpus",
        "0",
        "--seed",
        "7",
        "--wandb-project",
        "p",
        "--wandb-run-name",
        "r",
    )
    assert overrides_from_args(args) == {
        "seed": 7,
        "stop.iters": 3,
        "stop.timesteps": 100,
        "stop.reward": 1.5,
        "resources.num_env_runners": 0,
        "resources.num_envs_per_env_runner": 2,
        "resources.num_learners": 0,
        "resources.num_cpus": 2,
        "resources.num_gpus": 0,
        "checkpoint.freq": 2,
        "checkpoint.at_end": False,
    }
    assert overrides_from_args(train_args("--config", "x.yaml")) == {}
    assert train_args("--resume").resume is True


@pytest.mark.parametrize(
    "argv", [["--stop-iters", "0"], ["--num-env-runners", "-1"], ["--stop-time", "0"]]
)
def test_bad_flags_are_rejected_by_the_parser(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        train_args("--config", "x.yaml", *argv)
    assert "must be" in capsys.readouterr().err


def test_cli_reports_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qenv.cli import main

    path = write(tmp_path, {**MINIMAL, "ppo": {"lr": 0}})
    assert main(["train", "--config", str(path), "--storage-path", str(tmp_path / "run")]) == 2
    assert f"qenv train: error: {path}: ppo.lr" in capsys.readouterr().err
    assert main(["train", "--storage-path", str(tmp_path / "none"), "--resume"]) == 2
    assert "--resume: no config.yaml" in capsys.readouterr().err


# ---------------------------------------------------------------------- progress rows
RESULT: dict[str, Any] = {
    "training_iteration": 4,
    "time_this_iter_s": 2.5,
    "timers": {"env_runner_sampling_timer": 2.0, "learner_update_timer": 0.5},
    "env_runners": {
        "num_env_steps_sampled_lifetime": 8000.0,
        "num_agent_steps_sampled_lifetime": {"node_0": 8000.0, "node_1": 8000.0},
        "num_episodes_lifetime": 8,
        "episode_return_mean": 12.5,
        "delivery_rate": 0.71,
    },
    "learners": {
        "__all_modules__": {},
        "a": {"policy_loss": 1.0, "entropy": 0.5},
        "b": {"policy_loss": 3.0, "entropy": float("nan")},
    },
    "fedavg": {"rounds": 2, "averaged": True, "epsilon": 1.25, "delta": 1e-5, "weights": {}},
}


def test_progress_row_line_and_stop_criteria() -> None:
    from training.run import progress_line, progress_row, stop_reason

    env_id = "EntanglementAllocation-v0"
    row = progress_row(RESULT, env_id)
    assert row["iteration"] == 4 and row["timesteps"] == 8000 and row["agent_steps"] == 16000
    assert row["delivery_rate"] == 0.71 and row["contention_rate"] is None
    assert row["learner"] == {"policy_loss": 2.0, "entropy": 0.5}
    assert row["fedavg"] == {"rounds": 2, "averaged": True, "epsilon": 1.25, "delta": 1e-5}
    line = progress_line(row, env_id, 10.0)
    assert "iter    4" in line and "8,000" in line and "delivery_rate 0.710" in line
    assert "fedavg r2 ε=1.25" in line
    exp = parse_experiment({**MINIMAL, "stop": {"iters": 10, "timesteps": 8000}})
    assert stop_reason(exp, row, 1.0) == "stop.timesteps=8000"
    exp = parse_experiment({**MINIMAL, "stop": {"iters": 10, "reward": 12.0}})
    assert stop_reason(exp, row, 1.0) == "stop.reward=12.0"
    exp = parse_experiment({**MINIMAL, "stop": {"iters": 10, "time_s": 5}})
    assert stop_reason(exp, row, 1.0) is None and stop_reason(exp, row, 6.0) == "stop.time_s=5.0"


def test_wandb_mode_and_flattening(monkeypatch: pytest.MonkeyPatch) -> None:
    from training.wandb_log import flatten, wandb_mode

    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert wandb_mode("offline", None) == "offline"
    assert wandb_mode("offline", "k3y") == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode("offline", None) == "disabled"
    assert flatten({"a": {"b": 1, "c": None, "d": float("nan")}, "e": True, "f": "x"}) == {
        "a/b": 1.0,
        "e": 1.0,
    }


def test_evaluation_env_resolution(tmp_path: Path) -> None:
    from training.checkpoint import evaluation_env

    path = write(tmp_path, {**MINIMAL, "env": {"id": "QPUAllocation-v0", "scenario": "small"}})
    assert evaluation_env(None, None, str(path), "D") == ("QPUAllocation-v0", {"scenario": "small"})
    assert evaluation_env(None, "X", None, "D") == ("X", {})
    assert evaluation_env(str(tmp_path), None, None, "D") == ("D", {})  # not a checkpoint
    with pytest.raises(ValueError, match="--env E contradicts --config"):
        evaluation_env(None, "E", str(path), "D")


def test_experiment_model_is_frozen() -> None:
    exp = parse_experiment(MINIMAL)
    with pytest.raises(Exception, match="frozen"):
        exp.seed = 3  # type: ignore[misc]
    assert isinstance(exp, Experiment)


def test_grouped_categorical_matches_rllib_multicategorical() -> None:
    import torch
    from ray.rllib.core.distribution.torch.torch_distribution import TorchMultiCategorical

    from training.module import grouped_categorical

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3 * 4, generator=gen)
    other = torch.randn(6, 3 * 4, generator=gen)
    ours = grouped_categorical(4).from_logits(logits)
    theirs = TorchMultiCategorical.from_logits(logits, input_lens=[4, 4, 4])
    ours_other = grouped_categorical(4).from_logits(other)
    theirs_other = TorchMultiCategorical.from_logits(other, input_lens=[4, 4, 4])
    actions = ours.sample()
    assert actions.shape == (6, 3) and actions.max() < 4
    assert torch.allclose(ours.logp(actions), theirs.logp(actions))
    assert torch.allclose(ours.entropy(), theirs.entropy())
    assert torch.allclose(ours.kl(ours_other), theirs.kl(theirs_other))
    assert torch.equal(ours.to_deterministic().sample(), logits.reshape(6, 3, 4).argmax(-1))


# ---------------------------------------------------------------------- demand forecast
def tiny_forecaster(path: Path, n_nodes: int = 8, window_s: float = 0.05) -> Path:
    """A small untrained forecaster (H = 5 windows of 5 slots of mesh8) saved to ``path``."""
    from agents.forecast.model import ForecasterConfig, build_model
    from agents.forecast.train import save_model

    config = ForecasterConfig(n_nodes=n_nodes, horizon=5, window_s=window_s, hidden=4)
    model = build_model(config, scale=np.linspace(0.5, 2.0, n_nodes), seed=3)
    save_model(model, path)
    return path


def test_forecast_key_is_validated(tmp_path: Path) -> None:
    model = str(tiny_forecaster(tmp_path / "f.pt"))
    env = {"id": "EntanglementAllocation-v0", "scenario": "mesh8"}
    assert parse_experiment({**MINIMAL, "env": env}).env.forecast is None
    exp = parse_experiment({**MINIMAL, "env": {**env, "forecast": model}})
    assert exp.env.forecast == model and "forecast" not in exp.env.env_kwargs()
    missing = write(tmp_path, {**MINIMAL, "env": {**env, "forecast": "no/such.pt"}})
    with pytest.raises(
        ValueError, match=r"exp\.yaml: env\.forecast: no forecaster model file 'no/such\.pt'"
    ):
        load_experiment(missing)
    qpu = {"id": "QPUAllocation-v0", "forecast": model}
    with pytest.raises(ValueError, match=r"env\.forecast: .*EntanglementAllocation-v0"):
        parse_experiment({**MINIMAL, "env": qpu})


def test_forecast_env_is_wrapped_and_a_bad_model_is_reported(tmp_path: Path) -> None:
    from agents.forecast.wrapper import DemandForecastWrapper
    from training.env import make_env, make_rllib_env

    model = str(tiny_forecaster(tmp_path / "f.pt"))
    kwargs = {"scenario": "mesh8", "horizon": 30}
    plain = make_rllib_env({"env_id": "EntanglementAllocation-v0", "env_kwargs": kwargs})
    assert not isinstance(plain.par_env, DemandForecastWrapper)
    env = make_rllib_env(
        {"env_id": "EntanglementAllocation-v0", "env_kwargs": kwargs, "forecast": model}
    )
    assert isinstance(env.par_env, DemandForecastWrapper)
    assert env.observation_spaces == plain.observation_spaces
    obs, _ = env.reset(seed=0)
    dem = env.par_env.unwrapped.layout.fields["demand"]
    assert obs["node_0"]["observation"][dem].sum() > 0  # the model's prior, not zeros
    for _ in range(30):
        obs, *_ = env.step(dict.fromkeys(env.agents, 0))
    assert env.agents == []
    wrong = str(tiny_forecaster(tmp_path / "g.pt", n_nodes=5))
    with pytest.raises(ValueError, match=r"env\.forecast: .*g\.pt: the model forecasts 5 nodes"):
        make_env("EntanglementAllocation-v0", kwargs, wrong)


def test_run_passes_the_forecast_to_the_env_runners(tmp_path: Path) -> None:
    from training.algo import build_ppo_config

    model = tiny_forecaster(tmp_path / "f.pt")
    exp = parse_experiment(
        {
            **MINIMAL,
            "env": {"id": "EntanglementAllocation-v0", "scenario": "mesh8", "forecast": str(model)},
        }
    )
    config, _ = build_ppo_config(exp)
    assert config.env_config["forecast"] == str(model.resolve())
    assert config.env_config["env_kwargs"] == {"scenario": "mesh8"}


def test_policy_side_forecast_matches_the_wrapper(tmp_path: Path) -> None:
    from agents.forecast.wrapper import DemandForecastWrapper
    from qenv.envs import make
    from training.checkpoint import PolicyForecast, has_forecast_wrapper

    model = tiny_forecaster(tmp_path / "f.pt")
    kwargs = {"scenario": "mesh8", "horizon": 60}
    wrapped = DemandForecastWrapper(make("EntanglementAllocation-v0", **kwargs), str(model))
    bare = make("EntanglementAllocation-v0", **kwargs)
    assert has_forecast_wrapper(wrapped) and not has_forecast_wrapper(bare)
    side = PolicyForecast(model)
    rng = np.random.default_rng(0)
    for seed in (0, 1):  # two episodes: the forecast restarts at each reset
        a, _ = wrapped.reset(seed=seed)
        b, _ = bare.reset(seed=seed)
        side.start(bare)
        while wrapped.agents:
            side.patch(b)
            for agent in a:
                np.testing.assert_array_equal(a[agent]["observation"], b[agent]["observation"])
            acts = {x: int(rng.choice(np.flatnonzero(a[x]["action_mask"]))) for x in a}
            a, *_ = wrapped.step(acts)
            b, *_ = bare.step(acts)


def test_shipped_forecast_ablation_and_model_fit_their_scenario(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agents.forecast.wrapper import DemandForecastWrapper
    from training.env import make_env

    monkeypatch.chdir(CONFIGS.parent)  # the file names the model relative to the repo root
    exp = load_experiment(CONFIGS / "forecast_ablation.yaml")
    assert exp.env.forecast == "configs/forecast/mesh8_bursty.pt"
    assert Path(exp.env.forecast).stat().st_size < 50_000  # shipped small
    env = make_env(exp.env.id, exp.env.env_kwargs(), exp.env.forecast)
    assert isinstance(env, DemandForecastWrapper)
    env.reset(seed=0)
    assert env.demand.shape == (8, 5) and (env.demand > 0).all()
