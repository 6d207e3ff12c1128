"""Clairvoyant bound on dpem_quick's 50 evaluation seeds: on the potential heralds and on
the heralds greedy stored (EXPERIMENTS.md §6). Run from the repository root."""
import sys, json; sys.path.insert(0, ".")
import numpy as np
from qenv.envs import make
from agents.baselines import GreedyPolicy
from agents.bound import delivery_upper_bound, due_delivery_rate, play_recorded
from training.config import load_experiment
kw = load_experiment("configs/dpem_quick.yaml").env.env_kwargs()
env = make("EntanglementAllocation-v0", **kw)
rows = []
for seed in range(1000, 1050):
    core = env.unwrapped.core if hasattr(env, "unwrapped") else env.core
    stored = []
    # wrap generate of each new engine: patch LinkStore.generate at class level
    from qenv.network import links as L
    orig = L.LinkStore.generate
    def gen(self, rng, _o=orig):
        out = _o(self, rng); stored.append(out.copy()); return out
    L.LinkStore.generate = gen
    H = play_recorded(env, GreedyPolicy(), seed)
    L.LinkStore.generate = orig
    g = due_delivery_rate(env)
    S = np.zeros_like(H); S[1:] = np.array(stored[:H.shape[0]-1])
    bp = delivery_upper_bound(env, H).bound
    bs = delivery_upper_bound(env, S).bound
    rows.append((g, bp, bs))
a = np.array(rows)
d1 = a[:,1]-a[:,0]; d2 = a[:,2]-a[:,0]
ci = lambda d: 1.96*d.std(ddof=1)/np.sqrt(len(d))
print(f"greedy {a[:,0].mean():.4f} bound(potential) {a[:,1].mean():.4f} bound(stored) {a[:,2].mean():.4f}")
print(f"headroom potential {d1.mean():+.4f} ± {ci(d1):.4f}; stored {d2.mean():+.4f} ± {ci(d2):.4f}; episodes with stored-headroom > 0: {(d2 > 1e-9).sum()}")
