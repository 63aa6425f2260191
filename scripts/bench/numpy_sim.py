#!/usr/bin/env python3
"""Vectorized numpy version of poq-sim's `bench` scenario, to measure the Rust simulator against.

Same rounds as `poq_sim::bench`: five inference nodes serve every round (clipped-normal quality),
K = 3 of 3 evaluators score every answer with normal noise (t + bias + N(0, sd^2), clipped to
0-10), mean consensus, linear rewards R = q - 0.5 c with min-max normalized latencies, and
per-node mean/std of the rewards accumulated in batches (memory independent of rounds).

    /opt/refpy/bin/python scripts/bench/numpy_sim.py --rounds 4000000
"""
import argparse
import time

import numpy as np

# (mean quality, sd, latency ms), as in poq-sim's PAPER_INFERENCE.
INFERENCE = np.array([[6.6, 2.4, 900.0], [6.3, 2.5, 1000.0], [2.7, 2.0, 2600.0], [3.4, 2.2, 1500.0], [2.2, 1.8, 4200.0]])
# (bias, sd, latency ms), as in poq_sim::bench.
EVALUATORS = np.array([[0.0, 1.0, 12.0], [0.5, 1.5, 45.0], [-0.5, 2.0, 60.0]])
ALPHA, BETA = 1.0, 0.5


def min_max(x):
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def simulate(rounds, seed=42, batch=200_000):
    rng = np.random.default_rng(seed)
    c_inf = min_max(INFERENCE[:, 2])
    c_ev = min_max(EVALUATORS[:, 2])
    n_f, n_e = len(INFERENCE), len(EVALUATORS)
    s1_inf = np.zeros(n_f); s2_inf = np.zeros(n_f)
    s1_ev = np.zeros(n_e); s2_ev = np.zeros(n_e)
    abs_err = 0.0
    done = 0
    while done < rounds:
        b = min(batch, rounds - done)
        truth = np.clip(INFERENCE[:, 0] + INFERENCE[:, 1] * rng.standard_normal((b, n_f)), 0.0, 10.0)
        scores = truth[:, :, None] + EVALUATORS[:, 0] + EVALUATORS[:, 1] * rng.standard_normal((b, n_f, n_e))
        np.clip(scores, 0.0, 10.0, out=scores)
        consensus = scores.mean(axis=2)
        r_inf = ALPHA * consensus / 10.0 - BETA * c_inf
        r_ev = ALPHA * (1.0 - np.abs(scores - consensus[:, :, None]) / 10.0) - BETA * c_ev
        s1_inf += r_inf.sum(axis=0); s2_inf += (r_inf * r_inf).sum(axis=0)
        r_ev = r_ev.reshape(-1, n_e)
        s1_ev += r_ev.sum(axis=0); s2_ev += (r_ev * r_ev).sum(axis=0)
        abs_err += np.abs(consensus - truth).sum()
        done += b
    n_ev = rounds * n_f
    mean_inf, mean_ev = s1_inf / rounds, s1_ev / n_ev
    std_inf = np.sqrt(np.maximum(s2_inf / rounds - mean_inf ** 2, 0) * rounds / (rounds - 1))
    return mean_inf, std_inf, mean_ev, abs_err / (rounds * n_f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=4_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    simulate(100_000)  # warm-up
    best = float("inf")
    for _ in range(args.repeats):
        t = time.perf_counter()
        mean_inf, std_inf, mean_ev, mae = simulate(args.rounds)
        best = min(best, time.perf_counter() - t)
    print("inference mean rewards:", np.round(mean_inf, 4), "std:", np.round(std_inf, 4))
    print("evaluator mean rewards:", np.round(mean_ev, 4), "consensus MAE:", round(mae, 4))
    print(f"numpy: {args.rounds} rounds in {best:.3f} s (best of {args.repeats}) = {args.rounds / best:.3e} rounds/s")


if __name__ == "__main__":
    main()
