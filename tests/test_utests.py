"""Tests of the Mann-Whitney U engine against published R output, scipy and odd input."""

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from clusterkrise.utests import RESULT_COLUMNS, compare_groups, mann_whitney_u

# --------------------------------------------------------------------------------------------------
# Published reference values

# R, help page of stats::wilcox.test ("Two-sample test. Hollander & Wolfe (1973), 69f."): the
# example data x, y. R reports W = 35 and, two-sided, the exact p-value 0.2544 (the page shows the
# one-sided call, p = 0.1272, which is half of it).
R_HELP_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
R_HELP_Y = [1.15, 0.88, 0.90, 0.74, 1.21]

# Tied data with R's printed output of wilcox.test(x, y) (correct = TRUE, normal approximation and
# the warning "cannot compute exact p-value with ties"):
# - https://endmemo.com/r/wilcoxon.php : W = 51.5, p-value = 0.5966 and W = 0, p-value = 0.001364
# - https://imathworks.com/cv/solved-wilcox-test-r-question : W = 52, p-value = 0.04271 (exact = F)
R_TIED = [
    ([1, 5, 9, 24, 56, 21, 3, 7, 21, 4], [12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5], 51.5, 0.5966),
    ([1, 5, 9, 24, 56, 21, 3, 7, 21, 4], [1233, 4356, 987, 39999, 1111, 200000], 0.0, 0.001364),
    ([1, 1, 1, 1, 1, 2, 2, 2, 2], [1, 1, 1, 1, 1, 1, 1, 1], 52.0, 0.04271),
]


def _round_sig(value, digits=4):
    return float(f"{value:.{digits}g}")


def test_r_help_page_example_exact():
    res = mann_whitney_u(R_HELP_X, R_HELP_Y, method="auto")
    assert res.method == "exact"
    assert res.U == 35
    assert round(res.p, 4) == 0.2544
    assert (res.n_x, res.n_y) == (10, 5)


def test_r_help_page_example_with_continuity_is_still_exact():
    # Continuity only touches the normal approximation; R's default call gives the same exact p.
    res = mann_whitney_u(R_HELP_X, R_HELP_Y, continuity=True, method="auto")
    assert res.method == "exact" and round(res.p, 4) == 0.2544


def test_default_is_the_asymptotic_p_spss_prints():
    res = mann_whitney_u(R_HELP_X, R_HELP_Y)
    ref = stats.mannwhitneyu(R_HELP_X, R_HELP_Y, alternative="two-sided", use_continuity=False, method="asymptotic")
    assert res.method == "asymptotic" and res.p == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize(("x", "y", "w", "p_r"), R_TIED)
def test_tied_data_matches_r_with_continuity(x, y, w, p_r):
    res = mann_whitney_u(x, y, continuity=True, method="auto")
    assert res.method == "asymptotic"
    assert res.U == w
    assert _round_sig(res.p) == p_r


@pytest.mark.parametrize(("x", "y", "w", "p_r"), R_TIED)
def test_tied_data_without_continuity_follows_from_r(x, y, w, p_r):
    # R prints only the corrected p; the tie-corrected sigma can be recovered from it, and the
    # uncorrected p (SPSS' asymptotic significance) follows from the same sigma without the 1/2.
    n1, n2 = len(x), len(y)
    d = abs(w - n1 * n2 / 2)
    sigma = (d - 0.5) / stats.norm.isf(p_r / 2)
    expected = 2 * stats.norm.sf(d / sigma)
    res = mann_whitney_u(x, y, continuity=False)
    assert res.p == pytest.approx(expected, rel=2e-3)
    assert res.p < mann_whitney_u(x, y, continuity=True).p


def test_scipy_documentation_example():
    # scipy.stats.mannwhitneyu docs: males vs females, U1 = 17, exact p = 0.1111.
    res = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12], method="auto")
    assert res.U == 17 and res.method == "exact" and round(res.p, 4) == 0.1111


def test_sign_conventions():
    res = mann_whitney_u([5, 6, 7, 8, 9], [1, 2, 3, 4, 4.5])
    assert res.U == 25 and res.r_rb == 1 and res.z > 0
    res = mann_whitney_u([1, 2, 3, 4, 4.5], [5, 6, 7, 8, 9])
    assert res.U == 0 and res.r_rb == -1 and res.z < 0


# --------------------------------------------------------------------------------------------------
# Agreement with scipy on many random cases


def _scipy_reference(x, y, continuity, our_method):
    method = "exact" if our_method == "exact" else "asymptotic"
    return stats.mannwhitneyu(x, y, alternative="two-sided", use_continuity=continuity, method=method)


@pytest.mark.parametrize("continuity", [False, True])
def test_agrees_with_scipy_on_random_cases(continuity):
    rng = np.random.default_rng(20201)
    methods = set()
    for case in range(150):
        n1, n2 = rng.integers(2, 70, size=2)
        if case % 3 == 0:
            x, y = rng.normal(size=n1), rng.normal(0.3, 1.2, size=n2)  # no ties
        else:
            top = int(rng.integers(2, 11))
            x, y = rng.integers(1, top + 1, size=n1), rng.integers(1, top + 1, size=n2)
        res = mann_whitney_u(x, y, continuity=continuity, method="auto")
        methods.add(res.method)
        if not res.reason == "":
            assert np.isnan(res.p)
            assert np.unique(np.concatenate([x, y])).size == 1
            continue
        ref = _scipy_reference(x, y, continuity, res.method)
        assert res.U == pytest.approx(ref.statistic, abs=1e-9)
        assert res.p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    assert methods >= {"exact", "asymptotic"}


def test_exact_rule_follows_r():
    rng = np.random.default_rng(3)
    assert mann_whitney_u(rng.normal(size=49), rng.normal(size=49), method="auto").method == "exact"
    assert mann_whitney_u(rng.normal(size=50), rng.normal(size=10), method="auto").method == "asymptotic"
    assert mann_whitney_u([1, 2, 2, 3, 4], [5, 6, 7, 8, 9], method="auto").method == "asymptotic"  # ties
    forced = mann_whitney_u(rng.normal(size=60), rng.normal(size=60), method="exact")
    assert forced.method == "exact"
    tied = mann_whitney_u([1, 2, 2, 3, 4], [5, 6, 7, 8, 9], method="exact")
    assert tied.method == "exact"  # the exact distribution with ties (coin)
    assert mann_whitney_u(rng.normal(size=8), rng.normal(size=8), method="asymptotic").method == "asymptotic"


def test_exact_untied_equals_scipys_exact_distribution():
    rng = np.random.default_rng(11)
    for n1, n2 in [(3, 4), (7, 5), (12, 20), (30, 25)]:
        x, y = rng.normal(size=n1), rng.normal(0.4, size=n2)
        ours = mann_whitney_u(x, y, method="exact")
        ref = stats.mannwhitneyu(x, y, alternative="two-sided", method="exact")
        assert ours.method == "exact" and ours.p == pytest.approx(ref.pvalue, rel=1e-9)


def test_exact_with_ties_equals_full_enumeration():
    """Small tied samples: the p of the tie-aware exact distribution equals counting every split."""
    from itertools import combinations

    x, y = [1, 2, 2, 3, 3, 3], [2, 3, 4, 4, 5]
    values = np.array(x + y, dtype=float)
    ranks = stats.rankdata(values)
    n1 = len(x)
    expected = n1 * (len(values) + 1) / 2
    observed = abs(ranks[:n1].sum() - expected)
    splits = [abs(ranks[list(c)].sum() - expected) for c in combinations(range(len(values)), n1)]
    p_enum = sum(d >= observed - 1e-9 for d in splits) / len(splits)
    assert mann_whitney_u(x, y, method="exact").p == pytest.approx(p_enum, rel=1e-12)


def test_exact_falls_back_with_a_reason_when_not_feasible():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=520), rng.normal(size=520)
    data = pd.DataFrame({"v": np.concatenate([x, y])})
    group = pd.Series(pd.Categorical(["x"] * 520 + ["y"] * 520, categories=["x", "y"]))
    row = compare_groups(data, ["v"], {"g": group}, method="exact").iloc[0]
    assert row["method"] == "asymptotic" and "exakte Verteilung" in row["note"]
    assert 0 < row["p"] < 1 and row["significant"] == (row["p"] <= 0.10)


# --------------------------------------------------------------------------------------------------
# compare_groups: table shape and agreement with a per-pair loop


def _survey(seed=7, n=140, continuous=False):
    rng = np.random.default_rng(seed)
    if continuous:  # no ties: the engine counts by gathering instead of a sparse product
        data = pd.DataFrame({f"A1_{k:02d}": rng.normal(5, 2, size=n) for k in range(1, 7)})
        data["A1_03"] = data["A1_03"].round()
    else:
        data = pd.DataFrame({f"A1_{k:02d}": rng.integers(1, 11, size=n).astype(float) for k in range(1, 7)})
    data["A1_03"] = np.where(rng.random(n) < 0.2, 0, data["A1_03"])  # 0 = "nicht relevant"
    data.loc[rng.random(n) < 0.1, "A1_02"] = np.nan
    data.index = pd.RangeIndex(1000, 1000 + n)
    g1 = pd.Series(pd.Categorical(rng.choice(["Ost", "West", None], size=n), categories=["Ost", "West"]), index=data.index)
    g2 = pd.Series(pd.Categorical(rng.choice(["U40", "Ü40"], size=n), categories=["U40", "Ü40"]), index=data.index)
    return data, {"east_west": g1, "age": g2}


def test_table_has_the_documented_columns_and_order():
    data, groupings = _survey()
    items = list(data.columns)
    res = compare_groups(data, items, groupings, special_codes={"A1_03": [0]})
    assert list(res.columns) == RESULT_COLUMNS
    assert len(res) == len(items) * len(groupings)
    assert list(res["item"]) == [i for i in items for _ in groupings]
    assert list(res["grouping"]) == list(groupings) * len(items)
    assert res["significant"].dtype == bool


@pytest.mark.parametrize("continuous", [False, True])
def test_compare_groups_matches_scipy_per_pair(continuous):
    data, groupings = _survey(continuous=continuous)
    items = list(data.columns)
    for continuity in (False, True):
        res = compare_groups(data, items, groupings, special_codes={"A1_03": [0]}, continuity=continuity)
        for row in res.itertuples():
            values = data[row.item]
            if row.item == "A1_03":
                values = values.where(values != 0)
            g = groupings[row.grouping]
            x = values[g == row.group_1].dropna()
            y = values[g == row.group_2].dropna()
            assert (row.n_1, row.n_2) == (len(x), len(y))
            assert row.median_1 == x.median() and row.median_2 == y.median()
            assert row.mean_1 == pytest.approx(x.mean()) and row.mean_2 == pytest.approx(y.mean())
            ref = _scipy_reference(x, y, continuity, row.method)
            assert row.U == pytest.approx(ref.statistic)
            assert row.p == pytest.approx(ref.pvalue, rel=1e-9)
            assert row.r_rb == pytest.approx(2 * ref.statistic / (len(x) * len(y)) - 1)
            assert row.reason == ""


def test_special_codes_forms_are_equivalent():
    data, groupings = _survey()
    a = compare_groups(data, ["A1_03"], groupings, special_codes={"A1_03": 0})
    b = compare_groups(data, ["A1_03"], groupings, special_codes=[0])
    c = compare_groups(data, ["A1_03"], groupings, special_codes={None: (0,)})
    plain = compare_groups(data, ["A1_03"], groupings)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert (a["n_1"] + a["n_2"] < plain["n_1"] + plain["n_2"]).all()


def test_benjamini_hochberg_and_significance():
    data, groupings = _survey(seed=11)
    data["A1_06"] = data["A1_06"] + (groupings["age"] == "U40") * 3  # one real difference
    res = compare_groups(data, list(data.columns), groupings, alpha=0.10)
    tested = res["p"].notna()
    expected = multipletests(res.loc[tested, "p"], method="fdr_bh")[1]
    np.testing.assert_allclose(res.loc[tested, "p_bh"], expected)
    assert (res["significant"] == (res["p"] <= 0.10)).all()
    assert res.loc[(res["item"] == "A1_06") & (res["grouping"] == "age"), "significant"].item()


def test_bh_step_up_equals_statsmodels_to_the_last_bit():
    """utests adjusts without importing statsmodels (it would import scipy.stats into every kernel): the same
    numbers, bit for bit, on random p with ties, ones and a single test."""
    from clusterkrise.utests import _bh_step_up

    rng = np.random.default_rng(16)
    for case in range(600):
        m = int(rng.integers(1, 80))
        p = rng.random(m)
        if case % 3 == 0:
            p = np.round(p, 2)  # ties
        if case % 5 == 0:
            p[rng.integers(0, m)] = 1.0
        np.testing.assert_array_equal(_bh_step_up(p), multipletests(p, method="fdr_bh")[1])


def test_the_notebooks_kernels_do_not_preload_scipy_stats():
    """Nothing the chapter notebooks import, directly or through the library, names scipy.stats or statsmodels:
    the build's kernel factory would import them (half a second) before the first notebook could start."""
    from pathlib import Path

    from clusterkrise.build import preload_modules, read_notebook

    root = Path(__file__).resolve().parents[1]
    notebooks = [read_notebook(p) for p in sorted((root / "notebooks").glob("*.ipynb"))]
    preload = preload_modules(notebooks, root / "lib" / "clusterkrise", library=True)
    assert "pandas" in preload and "clusterkrise.utests" in preload
    assert [m for m in preload if m.startswith(("scipy.stats", "statsmodels"))] == []


def test_single_series_and_four_groups_give_all_pairs():
    rng = np.random.default_rng(5)
    n = 120
    data = pd.DataFrame({"x": rng.integers(1, 6, size=n)})
    cats = ["a", "b", "c", "d"]
    g = pd.Series(pd.Categorical(rng.choice(cats, size=n), categories=cats), name="fin")
    res = compare_groups(data, ["x"], g)
    assert list(res["grouping"].unique()) == ["fin"]
    assert list(zip(res["group_1"], res["group_2"])) == [(a, b) for i, a in enumerate(cats) for b in cats[i + 1 :]]


def test_non_categorical_grouping_uses_sorted_values():
    data = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0]})
    g = pd.Series([2, 1, 2, 1, 2, 1, 2, 1, 2, np.nan])
    res = compare_groups(data, ["x"], {"g": g}, min_group_size=2)
    assert (res.loc[0, "group_1"], res.loc[0, "group_2"]) == (1, 2)
    assert (res.loc[0, "n_1"], res.loc[0, "n_2"]) == (4, 5)


def test_grouping_is_aligned_by_index():
    data, groupings = _survey()
    shuffled = {k: v.sample(frac=1, random_state=1) for k, v in groupings.items()}
    pd.testing.assert_frame_equal(compare_groups(data, ["A1_01"], shuffled), compare_groups(data, ["A1_01"], groupings))


# --------------------------------------------------------------------------------------------------
# odd input


def _one_grouping(n1, n2, n_out=0):
    labels = ["A"] * n1 + ["B"] * n2 + [None] * n_out
    return pd.Series(pd.Categorical(labels, categories=["A", "B"]))


def test_odd_items_never_crash_and_never_give_zero():
    g = _one_grouping(8, 7, 2)
    n = len(g)
    data = pd.DataFrame(
        {
            "missing": np.full(n, np.nan),
            "constant": np.full(n, 4.0),
            "text": ["kein Wert"] * n,
            "special_only": np.full(n, 99.0),
            "fine": np.arange(n, dtype=float),
        }
    )
    res = compare_groups(data, list(data.columns), {"g": g}, special_codes={"special_only": [99]}).set_index("item")
    assert res.loc["missing", "reason"].startswith("keine gültigen Werte")
    assert res.loc["constant", "reason"].startswith("keine Streuung")
    assert res.loc["text", "reason"].startswith("keine numerischen Werte")
    assert res.loc["special_only", "reason"].startswith("keine gültigen Werte")
    odd = res.drop(index="fine")
    assert odd["p"].isna().all() and odd["U"].isna().all() and odd["z"].isna().all()
    assert odd["p_bh"].isna().all() and not odd["significant"].any() and (odd["method"] == "").all()
    assert res.loc["fine", "reason"] == "" and res.loc["fine", "p"] > 0
    assert res.loc["constant", "median_1"] == 4 and res.loc["constant", "n_1"] == 8


@pytest.mark.parametrize(
    ("n1", "n2", "start"),
    [(0, 9, "Gruppe leer"), (1, 9, "Gruppe mit weniger als 2"), (4, 9, "Gruppe kleiner als 5"), (0, 0, "keine gültigen")],
)
def test_small_groups_get_a_reason(n1, n2, start):
    g = _one_grouping(n1, n2, 3)
    data = pd.DataFrame({"x": np.arange(len(g), dtype=float)})
    row = compare_groups(data, ["x"], {"g": g}).iloc[0]
    assert row["reason"].startswith(start)
    assert np.isnan(row["p"]) and not row["significant"]
    assert (row["n_1"], row["n_2"]) == (n1, n2)


def test_min_group_size_is_a_parameter():
    g = _one_grouping(4, 9)
    data = pd.DataFrame({"x": np.arange(len(g), dtype=float)})
    assert compare_groups(data, ["x"], {"g": g}, min_group_size=4).loc[0, "reason"] == ""


def test_grouping_with_one_category_gets_a_reason():
    data = pd.DataFrame({"x": np.arange(10.0)})
    g = pd.Series(pd.Categorical(["A"] * 10, categories=["A"]))
    row = compare_groups(data, ["x"], {"g": g}).iloc[0]
    assert row["reason"].startswith("weniger als zwei Gruppen") and np.isnan(row["p"])


def test_partly_non_numeric_item_is_coerced_with_warning():
    g = _one_grouping(6, 6)
    data = pd.DataFrame({"x": ["1", "2", "3", "x", "5", "6", "7", "8", "9", "10", "11", "12"]})
    with pytest.warns(UserWarning, match="non-numeric"):
        row = compare_groups(data, ["x"], {"g": g}).iloc[0]
    assert (row["n_1"], row["n_2"]) == (5, 6) and row["reason"] == ""


def test_bad_arguments_raise_clear_errors():
    data, groupings = _survey()
    with pytest.raises(ValueError, match="alpha"):
        compare_groups(data, ["A1_01"], groupings, alpha=1.5)
    with pytest.raises(ValueError, match="method"):
        compare_groups(data, ["A1_01"], groupings, method="permutation")
    with pytest.raises(ValueError, match="min_group_size"):
        compare_groups(data, ["A1_01"], groupings, min_group_size=0)
    with pytest.raises(ValueError, match="A9_99"):
        compare_groups(data, ["A1_01", "A9_99"], groupings)
    with pytest.raises(ValueError, match="no index labels"):
        compare_groups(data, ["A1_01"], {"g": pd.Series(["a", "b"], index=[-1, -2])})
    with pytest.raises(ValueError, match="duplicate"):
        compare_groups(data, ["A1_01"], {"g": pd.Series(["a", "b"], index=[1000, 1000])})
    with pytest.raises(TypeError, match="Series"):
        compare_groups(data, ["A1_01"], {"g": ["a", "b"]})
    with pytest.raises(ValueError, match="not analysed"):
        compare_groups(data, ["A1_01"], groupings, special_codes={"A1_02": [0]})


def test_empty_item_list_gives_empty_table():
    data, groupings = _survey()
    res = compare_groups(data, [], groupings)
    assert list(res.columns) == RESULT_COLUMNS and res.empty


def test_mann_whitney_u_with_missing_values_and_text():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the single-pair helper drops text without noise
        res = mann_whitney_u([1, 2, None, "a", 3, 4], [5, 6, 7, np.nan, 8])
    assert (res.n_x, res.n_y) == (4, 4) and res.U == 0
    assert np.isnan(mann_whitney_u([1], [2, 3]).p)


def test_memory_stays_linear_in_respondents():
    rng = np.random.default_rng(1)
    n = 40_000  # a respondents x respondents matrix would need 12.8 GB
    data = pd.DataFrame({"x": rng.normal(size=n), "y": rng.integers(1, 11, size=n)})
    g = pd.Series(pd.Categorical(rng.choice(["A", "B"], size=n)))
    tracemalloc.start()
    compare_groups(data, ["x", "y"], {"g": g})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 2**20


# --------------------------------------------------------------------------------------------------
# Tie-aware exact p against coin, and the declared Benjamini-Hochberg family

COIN = pd.read_csv(__import__("pathlib").Path(__file__).parent / "data" / "coin_reference.csv")


@pytest.mark.parametrize("row", COIN.to_dict("records"), ids=lambda r: f"{r['x'][:12]}|{r['y'][:12]}")
def test_exact_and_asymptotic_p_match_coin(row):
    """Reference values from coin::wilcox_test (tests/data/coin_reference.R, R 4.2.2, coin 1.4-2)."""
    x = [float(v) for v in row["x"].split()]
    y = [float(v) for v in row["y"].split()]
    assert mann_whitney_u(x, y, method="exact").p == pytest.approx(row["p_exact"], rel=1e-8)
    assert mann_whitney_u(x, y).p == pytest.approx(row["p_asymptotic"], rel=1e-8)


def test_bh_family_is_declared_and_counts_a_duplicate_test_once():
    from clusterkrise.utests import adjust_bh

    data, groupings = _survey()
    items = list(data.columns)
    first = compare_groups(data, items, groupings, bh_family="ch07")
    assert set(first["bh_family"]) == {"ch07"}
    again = compare_groups(data, items[:2], groupings)
    joined = adjust_bh([first, again], family="chapter")
    assert set(joined["bh_family"]) == {"chapter"}
    # the second table repeats tests of the first: the family is the distinct tests, so p_bh equals
    # the adjustment of the first table alone
    np.testing.assert_allclose(joined["p_bh"].to_numpy()[: len(first)], first["p_bh"].to_numpy(), equal_nan=True)
    tested = first["p"].notna()
    expected = multipletests(first.loc[tested, "p"], method="fdr_bh")[1]
    np.testing.assert_allclose(first.loc[tested, "p_bh"], expected)


def test_table_records_alpha_continuity_and_method():
    data, groupings = _survey()
    res = compare_groups(data, list(data.columns), groupings, alpha=0.05, continuity=True)
    assert set(res["alpha"]) == {0.05} and set(res["continuity"]) == {True}
    assert set(res.loc[res["p"].notna(), "method"]) == {"asymptotic"}


# --------------------------------------------------------------------------------------------------
# Bootstrap interval of the rank-biserial correlation (the robustness appendix)


def _rank_biserial(x, y, axis=-1):
    """P(X > Y) - P(X < Y) over all pairs; vectorised over leading axes as scipy.stats.bootstrap calls it."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return np.sign(x[..., :, None] - y[..., None, :]).mean(axis=(-2, -1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_bootstrap_interval_agrees_with_scipys_percentile_bootstrap(seed):
    """The same interval scipy.stats.bootstrap gives (percentile method, the groups resampled separately), up to
    the Monte Carlo error of 2,000 samples."""
    from clusterkrise.utests import bootstrap_r_rb

    rng = np.random.default_rng(100 + seed)
    x, y = rng.integers(1, 6, 30), rng.integers(2, 7, 55)  # answer scales: few values, many ties
    low, high = bootstrap_r_rb(x, y, samples=2000, seed=seed)
    reference = stats.bootstrap((x, y), _rank_biserial, method="percentile", n_resamples=20000, vectorized=True,
                                paired=False, random_state=seed).confidence_interval
    assert low == pytest.approx(reference.low, abs=0.03)
    assert high == pytest.approx(reference.high, abs=0.03)
    assert low < _rank_biserial(x, y) < high


def test_the_bootstrap_interval_is_fixed_by_its_seed_and_needs_two_answers_per_group():
    from clusterkrise.utests import bootstrap_r_rb

    x, y = [1, 2, 2, 3, 4, 5, None], [2, 3, 3, 4, 5, 5, 5]
    assert bootstrap_r_rb(x, y, seed=7) == bootstrap_r_rb(x, y, seed=7)
    assert bootstrap_r_rb(x, y, seed=7) != bootstrap_r_rb(x, y, seed=8)
    assert all(np.isnan(bootstrap_r_rb([3], y)))


def test_each_bootstrap_sample_draws_every_value_as_often_as_sampling_with_replacement_does():
    """Counts of n draws with replacement from n values: each row sums to n, a value is drawn Binomial(n, 1/n)
    times (mean 1, variance 1 - 1/n)."""
    from clusterkrise.utests import _draw_counts

    counts = _draw_counts(np.random.default_rng(3), 12, 20000)
    assert counts.shape == (20000, 12) and (counts.sum(axis=1) == 12).all()
    assert counts.mean() == pytest.approx(1.0, abs=0.01)
    assert counts.var(axis=0) == pytest.approx(np.full(12, 1 - 1 / 12), abs=0.05)
