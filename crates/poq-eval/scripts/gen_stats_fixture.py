"""Point estimates and p-values of scipy (pearsonr, spearmanr, kendalltau tau-b asymptotic, linregress)
and sklearn's IsotonicRegression, for tests/stats_parity.rs.

Run: /opt/refpy/bin/python crates/poq-eval/scripts/gen_stats_fixture.py
"""
import json
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.isotonic import IsotonicRegression

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "stats" / "stats_parity.json"


def cases():
    rng = np.random.default_rng(7)
    out = []
    for n in [3, 4, 5, 10, 30, 100, 400]:
        x = rng.normal(size=n)
        y = 0.6 * x + rng.normal(size=n)
        out.append((f"normal_n{n}", x, y))
    for n in [8, 50, 200]:
        x = np.round(rng.uniform(0, 10, size=n))
        y = np.round(np.clip(x + rng.normal(0, 3, size=n), 0, 10))
        out.append((f"ties_n{n}", x, y))
    x = rng.uniform(0, 10, size=60)
    out.append(("negative", x, 10 - x + rng.normal(0, 1, size=60)))
    out.append(("perfect", np.arange(6.0), 2 * np.arange(6.0) + 1))
    out.append(("monotone_nonlinear", np.arange(1.0, 21.0), np.exp(np.arange(1.0, 21.0) / 4)))
    f1 = np.clip(rng.beta(2, 2, size=120) + rng.normal(0, 0.1, size=120), 0, 1)
    out.append(("scores_vs_f1", np.clip(10 * f1 + rng.normal(0, 2, size=120), 0, 10), f1))
    out.append(("f1_with_many_zeros", np.round(rng.uniform(0, 10, size=80), 1), np.where(rng.random(80) < 0.4, 0.0, rng.random(80))))
    return out


def main():
    rows = []
    for name, x, y in cases():
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
        kt = stats.kendalltau(x, y, variant="b", method="asymptotic")
        lr = stats.linregress(x, y)
        iso = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(x, y)
        grid = np.linspace(x.min() - 1, x.max() + 1, 25)
        rows.append({
            "name": name, "x": x.tolist(), "y": y.tolist(),
            "pearson": pr.statistic, "pearson_p": pr.pvalue,
            "spearman": sr.statistic, "spearman_p": sr.pvalue,
            "kendall_b": kt.statistic, "kendall_p": kt.pvalue,
            "slope": lr.slope, "intercept": lr.intercept,
            "iso_fit": iso.predict(x).tolist(), "iso_grid": grid.tolist(), "iso_pred": iso.predict(grid).tolist(),
        })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"scipy": scipy.__version__, "sklearn": sklearn.__version__, "cases": rows}))
    print(f"wrote {len(rows)} cases to {OUT}")


if __name__ == "__main__":
    main()
