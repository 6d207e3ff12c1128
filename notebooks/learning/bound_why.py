"""Which requests the clairvoyant integer program serves that greedy does not, and whether
it serves them out of their node's FIFO order (EXPERIMENTS.md §6). Run from the root."""
import sys; sys.path.insert(0, ".")
import numpy as np
import agents.bound as B
from qenv.envs import make
from agents.baselines import GreedyPolicy
from training.config import load_experiment
from qenv.network import links as L
kw = load_experiment("configs/dpem_quick.yaml").env.env_kwargs()
env = make("EntanglementAllocation-v0", **kw)
cap = {}
orig_milp = B.milp
def m(*a, **k):
    r = orig_milp(*a, **k); cap["x"] = r.x; return r
B.milp = m
tot = {}
for seed in range(1000, 1020):
    stored = []
    og = L.LinkStore.generate
    def gen(self, rng, _o=og):
        out = _o(self, rng); stored.append(out.copy()); return out
    L.LinkStore.generate = gen
    # record greedy's per-request claim history
    core = env.unwrapped.core
    H = B.play_recorded(env, GreedyPolicy(), seed)
    L.LinkStore.generate = og
    S = np.zeros_like(H); S[1:] = np.array(stored[:H.shape[0]-1])
    res = B.delivery_upper_bound(env, S, integral=True, time_limit=60)
    req, path, slot = B._claim_variables(core, core.horizon)
    x = cap["x"][: req.size]
    due = B.due_requests(core)
    b = core.batch
    served_b = np.zeros(len(b)); np.add.at(served_b, req, x)
    served_g = (b.n_pairs - core.remaining[:-1]) > 0
    sb = served_b > 0.5
    gain = np.flatnonzero(due & sb & ~served_g)
    lose = np.flatnonzero(due & ~sb & served_g)
    for r in gain:
        # was r behind another request of its node at the slot the bound served it?
        s_served = slot[(req == r) & (x > 0.5)][0]
        p_served = path[(req == r) & (x > 0.5)][0]
        same_node = np.flatnonzero((b.source == b.source[r]) & (b.arrival < b.arrival[r]) & (b.deadline >= s_served))
        # FIFO violated in the bound's own schedule: an earlier request of the node still
        # pending (not yet served by the bound) in the slot r is served
        blocked = any(x[(req == q) & (slot < s_served)].sum() < b.n_pairs[q] - 0.5 for q in same_node)
        hops = (core.req_links[r, p_served] >= 0).sum()
        key = "gain_out_of_order" if blocked else "gain_in_order"
        tot[key] = tot.get(key, 0) + 1
    tot["gain"] = tot.get("gain", 0) + len(gain); tot["lose"] = tot.get("lose", 0) + len(lose)
print(tot)
