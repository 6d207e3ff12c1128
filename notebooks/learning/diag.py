"""Where delivery is lost on a scenario under greedy: per undelivered request, was it ever
a head request, and did any candidate path ever look feasible while it was the head?"""
import sys, json; sys.path.insert(0, ".")
import numpy as np
from qenv.envs import make
from agents.policy import make_policy
from qenv.envs.entanglement.dynamics import feasibility_score
scen = sys.argv[1]; n_ep = int(sys.argv[2]); ov = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
env = make("EntanglementAllocation-v0", scenario=scen, scenario_overrides=ov)
pol = make_policy(sys.argv[4] if len(sys.argv) > 4 else "greedy", "EntanglementAllocation-v0")
tot = dict(requests=0, delivered=0, never_head=0, head_never_feasible=0, head_feasible_lost=0, no_valid_path=0)
for seed in range(n_ep):
    obs, _ = env.reset(seed=seed); pol.reset(env, seed)
    core = env.unwrapped.core
    R = core._n_requests
    was_head = np.zeros(R + 1, bool); feas = np.zeros(R + 1, bool); res = np.zeros(R + 1, bool); pairs = np.zeros(R + 1, bool)
    while env.agents:
        v = core.path_view()
        was_head[v.request] = True
        ok = feasibility_score(v) > 0
        feas[v.request[ok.any(1)]] = True
        pr = v.valid & (v.bottleneck >= 1)
        pairs[v.request[pr.any(1)]] = True
        res[v.request[(pr & (v.min_credit >= 1.0)).any(1)]] = True
        obs, *_ = env.step(pol.act(obs))
    done = core.finished[:R]
    lost = done & (core.remaining[:R] > 0)
    tot["requests"] += int(done.sum()); tot["delivered"] += int((done & (core.remaining[:R] == 0)).sum())
    tot["never_head"] += int((lost & ~was_head[:R]).sum())
    tot["head_never_feasible"] += int((lost & was_head[:R] & ~feas[:R]).sum())
    tot["head_feasible_lost"] += int((lost & feas[:R]).sum())
    nf = lost & was_head[:R] & ~feas[:R]
    tot["nf_no_pairs"] = tot.get("nf_no_pairs", 0) + int((nf & ~pairs[:R]).sum())
    tot["nf_pairs_no_credit"] = tot.get("nf_pairs_no_credit", 0) + int((nf & pairs[:R] & ~res[:R]).sum())
    tot["nf_resources_but_fidelity"] = tot.get("nf_resources_but_fidelity", 0) + int((nf & res[:R]).sum())
    tot["no_valid_path"] += int((lost & ~core.req_valid[:R].any(1)).sum())
print(scen, ov, tot, {k: round(v / tot["requests"], 3) for k, v in tot.items() if k != "requests"})
