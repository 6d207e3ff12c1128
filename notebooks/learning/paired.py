"""Paired (common-random-numbers) comparison of delivery_rate in an evaluation.json."""
import json, sys
import numpy as np
from scipy import stats
ev = json.load(open(sys.argv[1]))
metric = sys.argv[2] if len(sys.argv) > 2 else "delivery_rate"
res = ev["results"]
def arr(name):
    eps = res[name]["episodes"]
    return np.array([e["seed"] for e in eps]), np.array([e[metric] for e in eps], dtype=float)
def ci(x):
    n = len(x); h = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return x.mean(), h
names = list(res)
ppo = [n for n in names if n.startswith("ppo")]
print(f"{metric}: {len(arr(names[0])[1])} episodes, seeds {arr(names[0])[0].min()}..{arr(names[0])[0].max()}")
for n in names:
    m, h = ci(arr(n)[1]); print(f"  {n:22s} {m:.4f} ± {h:.4f}  median {np.median(arr(n)[1]):.4f}")
for p in ppo:
    s0, x = arr(p)
    for n in names:
        if n == p: continue
        s1, y = arr(n); assert (s0 == s1).all()
        d = x - y; m, h = ci(d)
        w = stats.wilcoxon(d).pvalue if np.any(d != 0) else 1.0
        print(f"  {p} - {n:12s} {m:+.4f} ± {h:.4f}  (95% CI [{m-h:+.4f}, {m+h:+.4f}], wins {int((d>0).sum())}/{int((d<0).sum())} ties {int((d==0).sum())}, Wilcoxon p={w:.3f})")
