import sys, time, json; sys.path.insert(0, ".")
import numpy as np
from agents.baselines import NodePolicy
from qenv.evaluate import compare
class Patient(NodePolicy):
    """claim a feasible path only if it is a shortest candidate, unless slack < thr"""
    def __init__(self, thr): super().__init__(); self.thr = thr; self.name = f"patient{thr}"
    def node_actions(self, rows, masks):
        f = self.fields
        allowed = masks[:, 1:] > 0
        ok = (rows[:, f["path_score"]] > 0) & allowed
        hops = rows[:, f["path_hops"]]
        hmin = np.where(allowed, hops, 9).min(1, keepdims=True)
        short = ok & (hops <= hmin + 1e-6)
        slack = rows[:, f["head_slack"]][:, 0] if rows[:, f["head_slack"]].ndim == 2 else rows[:, f["head_slack"]]
        urgent = slack < self.thr
        pick = np.where(short.any(1), np.argmax(short, 1) + 1, np.where(urgent & ok.any(1), np.argmax(ok, 1) + 1, 0))
        return pick.astype(np.int64)
ov = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
t = time.time()
out = compare("EntanglementAllocation-v0", ["random", "greedy", "centralized", Patient(0.3), Patient(0.1)], n, 0, {"scenario": "mesh8", "scenario_overrides": ov})
for k, v in out["results"].items():
    d = np.array([e["delivery_rate"] for e in v["episodes"]])
    m = v["mean"]
    print(f"{k:14s} dr {d.mean():.4f}±{1.96*d.std(ddof=1)/np.sqrt(len(d)):.3f} req {m['requests']:.0f} exp {m['expired_requests']:.1f} cont {m['contention_rate']:.3f} util {m['utilisation']:.3f}")
g = np.array([e["delivery_rate"] for e in out["results"]["greedy"]["episodes"]])
for k in out["results"]:
    d = np.array([e["delivery_rate"] for e in out["results"][k]["episodes"]]) - g
    print(f"  {k} - greedy: {d.mean():+.4f} ± {1.96*d.std(ddof=1)/np.sqrt(len(d)):.4f}")
print("time", time.time() - t)
