import sys; sys.path.insert(0, ".")
import numpy as np
from qenv.envs import make
from training.checkpoint import CheckpointPolicy
pol = CheckpointPolicy(sys.argv[1], deterministic=(sys.argv[2] == "det"))
env = make("EntanglementAllocation-v0", scenario="mesh8")
f = env.layout.fields
stats = {"feasible_claim_first":0, "feasible_claim_other_feasible":0, "feasible_claim_infeasible":0, "feasible_wait":0, "infeasible_wait":0, "infeasible_claim":0}
for seed in range(3):
    obs, _ = env.reset(seed=seed); pol.reset(env, seed)
    while env.agents:
        act = pol.act(obs)
        for a, o in obs.items():
            row = o["observation"]; m = o["action_mask"]
            if m[1:].sum() == 0: continue
            ok = (row[f["path_score"]] > 0) & (m[1:] > 0)
            x = int(act[a])
            if ok.any():
                if x == 0: stats["feasible_wait"] += 1
                elif x - 1 == int(np.argmax(ok)): stats["feasible_claim_first"] += 1
                elif ok[x - 1]: stats["feasible_claim_other_feasible"] += 1
                else: stats["feasible_claim_infeasible"] += 1
            else:
                stats["infeasible_wait" if x == 0 else "infeasible_claim"] += 1
        obs, r, te, tr, inf = env.step(act)
    print(seed, env.metrics()["delivery_rate"])
print(stats)
