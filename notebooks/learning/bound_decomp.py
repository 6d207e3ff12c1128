"""Clairvoyant bound on dpem_quick's 50 evaluation seeds (EXPERIMENTS.md §6), paired with
greedy: on the potential heralds with and without the queue rule, and on the heralds
greedy's run stored. Run from the repository root."""
import sys; sys.path.insert(0, ".")
import numpy as np
from qenv.envs import make
from qenv.network import links as L
from agents.baselines import GreedyPolicy
from agents.bound import delivery_upper_bound, due_delivery_rate, play_recorded
from training.config import load_experiment

kw = load_experiment("configs/dpem_quick.yaml").env.env_kwargs()
env = make("EntanglementAllocation-v0", **kw)
rows = []
for seed in range(1000, 1050):
    stored = []
    orig = L.LinkStore.generate
    def gen(self, rng, _o=orig):
        out = _o(self, rng); stored.append(out.copy()); return out
    L.LinkStore.generate = gen
    H = play_recorded(env, GreedyPolicy(), seed)
    L.LinkStore.generate = orig
    S = np.zeros_like(H); S[1:] = np.array(stored[: H.shape[0] - 1])
    rows.append((
        due_delivery_rate(env),
        delivery_upper_bound(env, H).bound,
        delivery_upper_bound(env, H, fifo_order=False).bound,
        delivery_upper_bound(env, S).bound,
    ))
a = np.array(rows)
ci = lambda d: 1.96 * d.std(ddof=1) / np.sqrt(len(d))
print(f"greedy {a[:, 0].mean():.4f}")
for i, name in ((1, "bound (queue rule, potential heralds)"), (2, "bound (any queued request, potential heralds)"), (3, "bound (queue rule, heralds greedy stored)")):
    d = a[:, i] - a[:, 0]
    print(f"{name}: {a[:, i].mean():.4f}; - greedy {d.mean():+.4f} ± {ci(d):.4f}; > greedy in {(d > 1e-9).sum()} episodes")
