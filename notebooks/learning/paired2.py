"""Paired difference of two runs' checkpoints evaluated on the same seeds (evaluation.json each)."""
import json, sys
import numpy as np
from scipy import stats
metric = sys.argv[3] if len(sys.argv) > 3 else "delivery_rate"
def ppo(path):
    res = json.load(open(path))["results"]
    name = [n for n in res if n.startswith("ppo")][0]
    eps = res[name]["episodes"]
    g = res.get("greedy", {}).get("episodes")
    return name, np.array([e["seed"] for e in eps]), np.array([e[metric] for e in eps], float), (None if g is None else np.array([e[metric] for e in g], float))
def ci(x):
    return x.mean(), stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
na, sa, a, ga = ppo(sys.argv[1]); nb, sb, b, gb = ppo(sys.argv[2])
assert (sa == sb).all()
for n, x in ((na, a), (nb, b), ("greedy", ga)):
    m, h = ci(x); print(f"{metric} {n:28s} {m:.4f} ± {h:.4f} (median {np.median(x):.4f})")
if ga is not None and gb is not None: assert np.allclose(ga, gb)
d = a - b; m, h = ci(d)
w = stats.wilcoxon(d).pvalue if np.any(d != 0) else 1.0
print(f"{na} - {nb}: {m:+.4f} ± {h:.4f} (95% CI [{m-h:+.4f}, {m+h:+.4f}]; better/worse/equal {int((d>0).sum())}/{int((d<0).sum())}/{int((d==0).sum())}; Wilcoxon p={w:.3f})")
for n, x in ((na, a), (nb, b)):
    d = x - ga; m, h = ci(d); print(f"{n} - greedy: {m:+.4f} ± {h:.4f} ({int((d>0).sum())}/{int((d<0).sum())}/{int((d==0).sum())})")
