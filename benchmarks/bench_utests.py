"""Benchmark of clusterkrise.utests.compare_groups against a per-pair scipy loop.

Run:  python benchmarks/bench_utests.py [--loop-pairs N] [--repeat R] [--continuous] [--synthetic-survey]

Cases
  (a) survey size: data/survey/responses.csv (every numeric item of blocks A-C, their special
      codes as missing, the six standard groupings) when the file exists, else a synthetic frame
      of 150 respondents x 120 items x 15 groupings; ``--synthetic-survey`` forces the latter;
  (b) scaled: 10,000 respondents x 200 items x 20 groupings (synthetic).

Synthetic items are answers on a 1..10 scale with about 10 % missing (ties everywhere, as in the
survey); ``--continuous`` uses normal values instead (no ties, the engine's worst case: one tie
block per answer). Every grouping splits the respondents into two groups and leaves about 20 % out.

The loop baseline is what one would write without the engine: for every (item, grouping) pair,
select both groups' non-missing values and call ``scipy.stats.mannwhitneyu`` (asymptotic, no
continuity correction, like the engine's default on tied data). In case (a) the loop runs over all
pairs. In case (b) it runs over a random sample of ``--loop-pairs`` pairs and the time is scaled up
to all pairs (printed as "extrapolated"). Both sides are also checked to give the same p-values on
the sampled pairs. Peak memory is measured with tracemalloc in a separate run, so that tracing does
not slow the timed runs. This is a script, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from clusterkrise.utests import compare_groups

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "data" / "survey" / "responses.csv"


def synthetic(n: int, n_items: int, n_groupings: int, *, continuous: bool, seed: int = 2020):
    rng = np.random.default_rng(seed)
    if continuous:
        values = rng.normal(size=(n, n_items))
    else:
        values = rng.integers(1, 11, size=(n, n_items)).astype(float)
    values[rng.random((n, n_items)) < 0.10] = np.nan
    data = pd.DataFrame(values, columns=[f"I{j:03d}" for j in range(n_items)])
    groupings = {}
    for g in range(n_groupings):
        labels = rng.choice(np.array(["A", "B", None], dtype=object), size=n, p=[0.45, 0.35, 0.20])
        groupings[f"G{g:02d}"] = pd.Series(pd.Categorical(labels, categories=["A", "B"]), index=data.index)
    return data, list(data.columns), groupings


def survey_case():
    """The shipped survey: every numeric item of blocks A-C, special codes from the codebook."""
    from clusterkrise.codebook import load_codebook
    from clusterkrise.groups import make_groupings
    from clusterkrise.io import load_survey

    codebook = load_codebook()
    data = load_survey(SURVEY, codebook=codebook)
    groupings = make_groupings(data)
    items, special = [], {}
    for question in codebook:
        if question.id[:1] not in "ABC" or question.is_open:
            continue
        for column in question.columns:
            if column in data and pd.api.types.is_numeric_dtype(data[column]):
                items.append(column)
                special[column] = list(codebook.special_codes(question.id))
    return data, items, groupings, special


def loop_pvalues(data, items, groupings, pairs, special=None):
    """The baseline: one scipy call per (item, grouping) pair."""
    values = {}
    for item in items:
        v = data[item].to_numpy(dtype=float, na_value=np.nan)
        codes = (special or {}).get(item)
        values[item] = np.where(np.isin(v, codes), np.nan, v) if codes else v
    masks = {}
    for name, g in groupings.items():
        cats = list(g.cat.categories)
        masks[name] = (np.asarray(g == cats[0]), np.asarray(g == cats[1]))
    out = np.full(len(pairs), np.nan)
    for k, (item, name) in enumerate(pairs):
        v = values[item]
        m1, m2 = masks[name]
        x, y = v[m1], v[m2]
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        if len(x) and len(y):
            out[k] = stats.mannwhitneyu(x, y, alternative="two-sided", use_continuity=False, method="asymptotic").pvalue
    return out


def best_of(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def peak_mib(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run_case(title, data, items, groupings, *, loop_pairs, repeat, rng, special=None):
    n_tests = len(items) * len(groupings)
    print(f"\n== {title}: {len(data)} respondents x {len(items)} items x {len(groupings)} groupings = {n_tests} tests")

    def engine():
        return compare_groups(data, items, groupings, method="asymptotic", special_codes=special)

    engine()  # warm-up (imports, caches)
    t_engine, table = best_of(engine, repeat)

    all_pairs = [(item, name) for item in items for name in groupings]
    if loop_pairs and loop_pairs < len(all_pairs):
        picked = rng.choice(len(all_pairs), size=loop_pairs, replace=False)
        pairs = [all_pairs[i] for i in picked]
        sampled = True
    else:
        pairs = all_pairs
        sampled = False
    t_loop_part, p_loop = best_of(lambda: loop_pvalues(data, items, groupings, pairs, special), 1)
    t_loop = t_loop_part * len(all_pairs) / len(pairs)

    lookup = table.set_index(["item", "grouping"])["p"]
    p_engine = np.array([lookup[(item, name)] for item, name in pairs])
    both = ~np.isnan(p_engine) & ~np.isnan(p_loop)
    max_diff = float(np.max(np.abs(p_engine[both] - p_loop[both]))) if both.any() else float("nan")

    mem_engine = peak_mib(engine)
    mem_loop = peak_mib(lambda: loop_pvalues(data, items, groupings, pairs[: min(len(pairs), 200)], special))

    how = f"extrapolated from {len(pairs)} sampled pairs ({t_loop_part:.3f} s)" if sampled else "all pairs"
    print(f"engine (compare_groups)   : {t_engine:8.3f} s   best of {repeat}; peak memory {mem_engine:7.1f} MiB")
    print(f"per-pair scipy loop       : {t_loop:8.3f} s   {how}; peak memory {mem_loop:7.1f} MiB")
    print(f"speed-up                  : {t_loop / t_engine:8.1f} x")
    print(f"max |p_engine - p_loop|   : {max_diff:.2e} over {int(both.sum())} compared pairs")
    return t_engine, t_loop


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop-pairs", type=int, default=400, help="pairs timed in the scaled loop (default 400)")
    parser.add_argument("--repeat", type=int, default=3, help="engine runs per case, best is reported")
    parser.add_argument("--continuous", action="store_true", help="continuous synthetic values (no ties)")
    parser.add_argument("--synthetic-survey", action="store_true", help="case (a) synthetic even if the survey exists")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(7)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, cpus {cpus}")
    print("synthetic values:", "continuous (no ties)" if args.continuous else "1..10 scale with ties, 10 % missing")

    if SURVEY.exists() and not (args.continuous or args.synthetic_survey):
        data, items, groupings, special = survey_case()
        title = f"(a) survey data {SURVEY.relative_to(ROOT)}"
    else:
        data, items, groupings = synthetic(150, 120, 15, continuous=args.continuous)
        special = None
        title = "(a) survey-sized synthetic"
    run_case(title, data, items, groupings, loop_pairs=0, repeat=args.repeat, rng=rng, special=special)

    data, items, groupings = synthetic(10_000, 200, 20, continuous=args.continuous)
    run_case("(b) scaled synthetic", data, items, groupings, loop_pairs=args.loop_pairs, repeat=args.repeat, rng=rng)


if __name__ == "__main__":
    main()
