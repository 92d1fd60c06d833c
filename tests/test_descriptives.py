"""Tests of the descriptive tables."""

import numpy as np
import pandas as pd
import pytest

from clusterkrise.descriptives import (
    describe_items,
    distribution,
    frequencies,
    relevance_shares,
    top_box_shares,
    yes_shares,
)


@pytest.fixture
def data():
    return pd.DataFrame(
        {
            # 0 = "nicht relevant"
            "A1_01": [1, 4, 0, 10, 7, np.nan, 0, 4],
            "A1_02": [np.nan] * 8,
            "C1_01": [1, 0, 1, 1, np.nan, 0, 1, 1],
        },
        dtype=float,
    )


def test_describe_items_excludes_special_codes(data):
    res = describe_items(data, ["A1_01", "A1_02"], special_codes={"A1_01": [0]}, item_labels={"A1_01": "Kita"})
    first = res.iloc[0]
    valid = pd.Series([1, 4, 10, 7, 4.0])
    assert first["item_label"] == "Kita" and res.iloc[1]["item_label"] == "A1_02"
    assert (first["n"], first["n_special"], first["n_missing"]) == (5, 2, 1)
    assert first["median"] == valid.median() and first["mean"] == pytest.approx(valid.mean())
    assert first["sd"] == pytest.approx(valid.std(ddof=1))
    assert (first["min"], first["max"]) == (1, 10)
    empty = res.iloc[1]
    assert empty["n"] == 0 and empty["n_missing"] == 8 and np.isnan(empty["mean"]) and np.isnan(empty["sd"])


def test_describe_items_without_special_codes_counts_zero_as_value(data):
    row = describe_items(data, "A1_01").iloc[0]
    assert row["n"] == 7 and row["n_special"] == 0 and row["min"] == 0


def test_frequencies_include_unused_labelled_values(data):
    res = frequencies(data, "C1_01", labels={0: "nein", 1: "ja", 2: "weiß nicht"})
    assert list(res["value"]) == [0, 1, 2]
    assert list(res["label"]) == ["nein", "ja", "weiß nicht"]
    assert list(res["n"]) == [2, 5, 0]
    assert res["share"].tolist() == pytest.approx([2 / 7, 5 / 7, 0])


def test_relevance_shares(data):
    res = relevance_shares(data, ["A1_01"], special_codes=0)
    row = res.iloc[0]
    assert (row["n"], row["n_relevant"]) == (7, 5) and row["share"] == pytest.approx(5 / 7)
    with pytest.raises(ValueError, match="no special code"):
        relevance_shares(data, ["A1_01"], special_codes={"A1_01": []})


def test_yes_shares(data):
    row = yes_shares(data, "C1_01").iloc[0]
    assert (row["n"], row["n_yes"]) == (7, 5) and row["share"] == pytest.approx(5 / 7)
    with pytest.raises(ValueError, match="A1_01.*other than 0 and 1"):
        yes_shares(data, ["A1_01"])


def test_top_box_shares(data):
    row = top_box_shares(data, "A1_01", cut=7, special_codes=[0]).iloc[0]
    assert (row["n"], row["n_top"]) == (5, 2) and row["share"] == pytest.approx(2 / 5)
    all_missing = top_box_shares(data, "A1_02", cut=7).iloc[0]
    assert all_missing["n"] == 0 and np.isnan(all_missing["share"])
    with pytest.raises(ValueError, match="cut"):
        top_box_shares(data, "A1_01", cut="7")


def test_distribution_has_every_scale_point(data):
    res = distribution(data, ["A1_01"], scale_min=1, scale_max=10, special_codes=0)
    assert list(res["value"]) == list(range(1, 11))
    counts = dict(zip(res["value"], res["n"]))
    assert counts == {1: 1, 2: 0, 3: 0, 4: 2, 5: 0, 6: 0, 7: 1, 8: 0, 9: 0, 10: 1}
    assert res["share"].sum() == pytest.approx(1)


def test_distribution_with_steps_and_several_items():
    df = pd.DataFrame({"A3_companies": [0, 10, 10, 100], "A3_employees": [50, 50, np.nan, 20]})
    res = distribution(df, ["A3_companies", "A3_employees"], scale_min=0, scale_max=100, step=10)
    assert len(res) == 22
    comp = res[res["item"] == "A3_companies"].set_index("value")["n"]
    assert (comp[0], comp[10], comp[100], comp[50]) == (1, 2, 1, 0)


def test_distribution_rejects_values_off_the_scale(data):
    with pytest.raises(ValueError, match="A1_01.*0.0"):
        distribution(data, "A1_01", scale_min=1, scale_max=10)
    with pytest.raises(ValueError, match="step"):
        distribution(data, "A1_01", scale_min=1, scale_max=10, step=0)
    with pytest.raises(ValueError, match="whole number of steps"):
        distribution(data, "A1_01", scale_min=1, scale_max=10, step=4)


def test_unknown_items_and_bad_special_codes(data):
    with pytest.raises(ValueError, match="B9_01"):
        describe_items(data, ["A1_01", "B9_01"])
    with pytest.raises(ValueError, match="not a number"):
        describe_items(data, ["A1_01"], special_codes=["nicht relevant"])
    with pytest.raises(ValueError, match="more than once"):
        describe_items(data, ["A1_01", "A1_01"])


def test_text_values_warn_and_are_not_counted():
    df = pd.DataFrame({"x": ["1", "2", "k.A.", "4"]})
    with pytest.warns(UserWarning, match="non-numeric value"):
        row = describe_items(df, "x").iloc[0]
    assert row["n"] == 3 and row["median"] == 2


# --- generic helpers (from chapter 07)


def test_scale_point_labels_fill_unlabelled_points():
    from clusterkrise.descriptives import scale_point_labels

    labels = scale_point_labels(-2, 2, {-2: "sehr negativ", 2: "sehr positiv"})
    assert labels == {-2: "sehr negativ", -1: "\u22121", 0: "0", 1: "+1", 2: "sehr positiv"}
    assert scale_point_labels(1, 3) == {1: "1", 2: "2", 3: "3"}


def test_answer_distribution_orders_by_relevance_and_keeps_special_answers():
    from clusterkrise.descriptives import answer_distribution

    data = pd.DataFrame({"x": [1, 99, 99, 2], "y": [-1, 1, 2, np.nan]})
    dist = answer_distribution(data, ["x", "y"], point_labels={-1: "-1", 1: "1", 2: "2", 99: "nb"}, special_codes=[99])
    assert list(dict.fromkeys(dist["item"])) == ["y", "x"]  # y: every answer relevant, x: half
    x = dist[dist["item"] == "x"].set_index("value")
    assert x.loc[99, "share"] == pytest.approx(0.5)
    assert x["relevance_share"].iloc[0] == pytest.approx(0.5)
    assert x["mean"].iloc[0] == pytest.approx(1.5)  # the special code is no rating
    assert x["n_item"].iloc[0] == 4


# --- generic helpers (scale bands)


def test_scale_bands_read_the_codebook():
    from clusterkrise.codebook import load_codebook
    from clusterkrise.descriptives import scale_bands

    cb = load_codebook()
    bands = scale_bands(cb.question("B4").scale, names={"stronger": "intensiver"})
    assert [b.key for b in bands] == ["weaker", "unchanged", "stronger", "special_0"]
    assert [b.label for b in bands[:3]] == ["weniger intensiv (1–4)", "unverändert (5)", "intensiver (6–9)"]
    assert [b.values for b in bands] == [(1, 2, 3, 4), (5,), (6, 7, 8, 9), (0,)]
    with pytest.raises(ValueError, match="no labelled middle"):
        scale_bands(cb.question("B1").scale)


def test_band_shares_count_every_band_and_refuse_stray_values():
    from clusterkrise.codebook import load_codebook
    from clusterkrise.descriptives import band_shares, scale_bands

    bands = scale_bands(load_codebook().question("B4").scale)
    table = band_shares(pd.Series([0, 1, 5, 5, 9, np.nan], name="B4"), bands).set_index("value")
    assert table["n"].to_dict() == {"weaker": 1, "unchanged": 2, "stronger": 1, "special_0": 1}
    assert table.loc["unchanged", "share"] == pytest.approx(2 / 5)
    assert table.loc["weaker", "codes"] == "1 2 3 4"
    with pytest.raises(ValueError, match=r"B4: value\(s\) \[12"):
        band_shares(pd.Series([1, 12], name="B4"), bands)


# --- generic helpers (from chapter 06)


def test_band_counts_counts_half_open_bands_and_rejects_values_outside():
    from clusterkrise.descriptives import band_counts

    table = band_counts(pd.Series([1.0, 2.0, 2.0, 5.0, None]), [(1, 2, "1"), (2, 5, "2–4"), (5, 10, "5–9")])
    assert table["n"].tolist() == [1, 2, 1]
    assert table["share"].tolist() == [0.25, 0.5, 0.25]
    with pytest.raises(ValueError, match="fall in none of the bands"):
        band_counts(pd.Series([5.0, 50.0]), [(0, 10, "klein")])


def test_selection_split_counts_none_one_and_more_options():
    from clusterkrise.descriptives import selection_counts, selection_split

    frame = pd.DataFrame({"a": [1, 0, 1, 0], "b": [1, 0, 0, None], "c": [1, 0, 0, 1]})
    assert selection_counts(frame, ["a", "b", "c"]).tolist() == [3, 0, 1, 1]
    split = selection_split(frame, ["a", "b", "c"], none="keins", one="eins", more="mehr")
    assert split.set_index("value")["n"].to_dict() == {"0": 1, "1": 2, ">1": 1}
    assert split["label"].tolist() == ["keins", "eins", "mehr"]


def test_group_of_bands_marks_bands_a_threshold_cuts_through():
    from clusterkrise.descriptives import OUTSIDE_GROUPS, group_of_bands, group_of_codes

    values = pd.Series([1, 2, 3, 4, 9])
    grouping = pd.Series(["klein", "klein", "groß", "groß", None])
    bands = [(1, 3, "1–2"), (2, 4, "2–3"), (3, 5, "3–4"), (5, 10, "5–9")]
    assert group_of_bands(values, grouping, bands) == ["klein", OUTSIDE_GROUPS, "groß", OUTSIDE_GROUPS]
    assert group_of_codes(values, grouping, [1, 3, 7]) == ["klein", "groß", OUTSIDE_GROUPS]


def test_rank_correlation_is_scipys_spearman_on_the_complete_pairs():
    from scipy import stats

    from clusterkrise.descriptives import rank_correlation

    rng = np.random.default_rng(6)
    for _ in range(200):
        n = int(rng.integers(4, 60))
        x = pd.Series(rng.integers(0, 6, n).astype(float))  # many ties
        y = pd.Series(rng.integers(0, 25, n).astype(float))
        x[rng.random(n) < 0.15] = np.nan
        both = x.notna() & y.notna()
        expected = stats.spearmanr(x[both], y[both]).statistic
        if np.isnan(expected):
            assert np.isnan(rank_correlation(x, y))
        else:
            assert rank_correlation(x, y) == pytest.approx(expected, abs=1e-12)
