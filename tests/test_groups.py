"""Tests of the comparison groups (Tab. 4)."""

import numpy as np
import pandas as pd
import pytest

from clusterkrise import groups
from clusterkrise.groups import (
    GROUPINGS,
    STANDARD_GROUPINGS,
    STATES,
    affectedness,
    age_group,
    east_west,
    financing_four,
    financing_institutional,
    gender,
    groupings_table,
    make_groupings,
    office_size,
    role,
)


def _states(*ticked_per_row):
    """D1 columns for rows, each row given as the states it ticked."""
    return pd.DataFrame(
        [{f"D1_{s}": float(s in row) for s in STATES} for row in ticked_per_row],
        index=pd.RangeIndex(10, 10 + len(ticked_per_row)),
    )


def _values(series):
    return [None if pd.isna(v) else v for v in series]


def _check_common(series, df, categories):
    assert isinstance(series.dtype, pd.CategoricalDtype) and series.cat.ordered
    assert list(series.cat.categories) == categories
    assert series.index.equals(df.index)
    assert set(series.attrs["group_sizes"]) == set(categories)
    assert sum(series.attrs["group_sizes"].values()) == series.notna().sum()
    assert sum(series.attrs["left_out"].values()) == series.isna().sum()


# --------------------------------------------------------------------------------------------------
# east_west


def test_east_west_assigns_single_side_clusters():
    df = _states(["SN"], ["BY"], ["BE"], ["SN", "TH"], ["NW", "HH"], ["SN", "BY"], [])
    s = east_west(df)
    _check_common(s, df, ["Ost", "West"])
    assert _values(s) == ["Ost", "West", "Ost", "Ost", "West", None, None]
    assert s.attrs["left_out"] == {"keine Angabe": 1, "Bundesländer in Ost und West": 1}


def test_east_west_berlin_options():
    df = _states(["BE"], ["BE", "NI"], ["BE", "MV"])
    assert _values(east_west(df, berlin="west")) == ["West", "West", None]
    ex = east_west(df, berlin="exclude")
    assert _values(ex) == [None, "West", "Ost"]
    assert ex.attrs["left_out"] == {"nur Berlin (ausgeschlossen)": 1}
    assert _values(east_west(df)) == ["Ost", None, "Ost"]


def test_east_west_majority():
    df = _states(["SN", "TH", "BY"], ["SN", "BY", "HE"], ["SN", "BY"])
    s = east_west(df, multi_state="majority")
    assert _values(s) == ["Ost", "West", None]
    assert s.attrs["left_out"] == {"gleich viele Bundesländer in Ost und West": 1}


def test_east_west_errors():
    df = _states(["SN"])
    with pytest.raises(ValueError, match="berlin"):
        east_west(df, berlin="north")
    with pytest.raises(ValueError, match="multi_state"):
        east_west(df, multi_state="all")
    with pytest.raises(ValueError, match="D1_TH"):
        east_west(df.drop(columns="D1_TH"))
    bad = df.copy()
    bad["D1_SN"] = 2.0
    with pytest.raises(ValueError, match="D1_SN"):
        east_west(bad)


# --------------------------------------------------------------------------------------------------
# financing


def _financing(rows):
    return pd.DataFrame(rows, columns=["D4_institutionell", "D4_projekt", "D4_mitglieder", "D4_sonstige"], dtype=float)


def test_financing_institutional_threshold():
    df = _financing([[50, 50, 0, 0], [49, 51, 0, 0], [100, 0, 0, 0], [np.nan] * 4, [np.nan, 100, np.nan, np.nan]])
    s = financing_institutional(df)
    _check_common(s, df, ["Größtenteils institutionell finanziert", "Sonstige Finanzierung"])
    assert list(s.cat.codes) == [0, 1, 0, -1, 1]
    assert s.attrs["left_out"] == {"Finanzierungsanteile fehlen": 1}
    assert list(financing_institutional(df, institutional_threshold=60).cat.codes) == [1, 1, 0, -1, 1]


def test_financing_threshold_emptying_a_group_is_visible():
    df = _financing([[10, 90, 0, 0], [30, 70, 0, 0]])
    s = financing_institutional(df, institutional_threshold=0)
    assert s.attrs["group_sizes"] == {"Größtenteils institutionell finanziert": 2, "Sonstige Finanzierung": 0}


def test_financing_four_groups():
    df = _financing(
        [[60, 40, 0, 0], [0, 100, 0, 0], [20, 20, 60, 0], [40, 30, 30, 0], [50, 50, 0, 0], [20, 20, 0, 60], [np.nan] * 4]
    )
    s = financing_four(df)
    _check_common(
        s,
        df,
        [
            "Größtenteils institutionell-finanziert",
            "Größtenteils projekt-finanziert",
            "Größtenteils durch Mitglieder finanziert",
            "Gemischt/Sonstige Finanzierung",
        ],
    )
    assert list(s.cat.codes) == [0, 1, 2, 3, 3, 3, -1]
    # Below 50 % several sources can qualify; the largest wins.
    assert list(financing_four(df, institutional_threshold=30).cat.codes) == [0, 1, 2, 0, 3, 3, -1]


@pytest.mark.parametrize("institutional_threshold", [-1, 101, float("nan"), "50", True])
def test_financing_bad_threshold(institutional_threshold):
    df = _financing([[50, 50, 0, 0]])
    with pytest.raises(ValueError, match="institutional_threshold"):
        financing_institutional(df, institutional_threshold=institutional_threshold)
    with pytest.raises(ValueError, match="institutional_threshold"):
        financing_four(df, institutional_threshold=institutional_threshold)


def test_financing_shares_out_of_range():
    with pytest.raises(ValueError, match="D4_projekt"):
        financing_institutional(_financing([[50, 150, 0, 0]]))


# --------------------------------------------------------------------------------------------------
# affectedness, office size


def test_affectedness_bands():
    df = pd.DataFrame({"A3_companies": [0, 10, 30, 40, 70, 80, 100, np.nan]})
    s = affectedness(df)
    _check_common(s, df, ["Durch Krise gering betroffen", "Durch Krise stark betroffen"])
    assert list(s.cat.codes) == [0, 0, 0, -1, -1, 1, 1, -1]
    assert s.attrs["left_out"] == {"keine Angabe": 1, "mittlere Betroffenheit": 2}
    assert list(affectedness(df, affectedness_high_min=70).cat.codes) == [0, 0, 0, -1, 1, 1, 1, -1]
    other = pd.DataFrame({"A3_employees": [20, 90]})
    assert list(affectedness(other, column="A3_employees").cat.codes) == [0, 1]


def test_affectedness_errors():
    df = pd.DataFrame({"A3_companies": [10.0]})
    with pytest.raises(ValueError, match="affectedness_low_max"):
        affectedness(df, affectedness_low_max=80, affectedness_high_min=30)
    with pytest.raises(ValueError, match="affectedness_high_min"):
        affectedness(df, affectedness_high_min=120)
    with pytest.raises(ValueError, match="A3_companies"):
        affectedness(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="outside 0..100"):
        affectedness(pd.DataFrame({"A3_companies": [110]}))


def test_office_size():
    df = pd.DataFrame({"D5_staff": [1, 5, 6, 60, np.nan]})
    s = office_size(df)
    _check_common(s, df, ["Kleine Clustermanagements", "Große Clustermanagements"])
    assert list(s.cat.codes) == [0, 0, 1, 1, -1]
    assert list(office_size(df, office_size_max_small=0).cat.codes) == [1, 1, 1, 1, -1]
    with pytest.raises(ValueError, match="office_size_max_small"):
        office_size(df, office_size_max_small=-1)
    with pytest.raises(ValueError, match="negative"):
        office_size(pd.DataFrame({"D5_staff": [-3]}))
    with pytest.raises(ValueError, match="non-numeric"):
        office_size(pd.DataFrame({"D5_staff": ["viele"]}))


# --------------------------------------------------------------------------------------------------
# respondents


def test_age_group_cut_on_band_edges():
    df = pd.DataFrame({"D9_age": [1, 2, 3, 4, 5, 6, np.nan]})
    s = age_group(df)
    _check_common(s, df, ["U40", "Ü40"])
    assert list(s.cat.codes) == [0, 0, 1, 1, 1, 1, -1]
    s50 = age_group(df, age_cut=50)
    assert list(s50.cat.categories) == ["U50", "Ü50"] and list(s50.cat.codes) == [0, 0, 0, 1, 1, 1, -1]
    for bad in (35, 0, 80, "40"):
        with pytest.raises(ValueError, match="age_cut"):
            age_group(df, age_cut=bad)
    with pytest.raises(ValueError, match="D9_age"):
        age_group(pd.DataFrame({"D9_age": [7]}))


def test_gender_leaves_out_divers_and_missing():
    df = pd.DataFrame({"D8_gender": [1, 2, 2, 3, np.nan]})
    s = gender(df)
    _check_common(s, df, ["weiblich", "männlich"])
    assert list(s.cat.codes) == [0, 1, 1, -1, -1]
    assert s.attrs["left_out"] == {"divers": 1, "keine Angabe": 1}


def test_role_against_other_tasks():
    df = pd.DataFrame(
        {
            "D11_pr_kommunikation": [1, 0, 1, 0, np.nan],
            "D11_projektmanagement": [1, 1, 0, 0, np.nan],
        }
    )
    s = role(df, "pr_kommunikation")
    _check_common(s, df, ["PR und Kommunikation", "andere Aufgaben"])
    assert list(s.cat.codes) == [0, 1, 0, -1, -1]
    assert s.attrs["left_out"] == {"keine Aufgabe angegeben": 2}
    custom = role(df, "projektmanagement", labels={"projektmanagement": "Projektleitung"})
    assert list(custom.cat.categories) == ["Projektleitung", "andere Aufgaben"]
    with pytest.raises(ValueError, match="unknown task 'vertrieb'.*pr_kommunikation"):
        role(df, "vertrieb")


# --------------------------------------------------------------------------------------------------
# registry and Tab. 4


def _respondents(n=60, seed=2):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"D1_{s}": (rng.random(n) < 0.1).astype(float) for s in STATES})
    shares = rng.dirichlet(np.ones(4), size=n) * 100
    for k, col in enumerate(["D4_institutionell", "D4_projekt", "D4_mitglieder", "D4_sonstige"]):
        df[col] = shares[:, k]
    df["A3_companies"] = rng.integers(0, 11, size=n) * 10.0
    df["D5_staff"] = rng.integers(1, 20, size=n).astype(float)
    df["D9_age"] = rng.integers(1, 7, size=n).astype(float)
    df["D8_gender"] = rng.choice([1.0, 2.0, 3.0], size=n, p=[0.45, 0.5, 0.05])
    return df


def test_make_groupings_passes_parameters():
    df = _respondents()
    out = make_groupings(df, institutional_threshold=40, age_cut=50, office_size_max_small=3)
    assert list(out) == list(STANDARD_GROUPINGS)
    pd.testing.assert_series_equal(out["financing"], financing_institutional(df, institutional_threshold=40))
    pd.testing.assert_series_equal(out["age"], age_group(df, age_cut=50))
    pd.testing.assert_series_equal(out["office_size"], office_size(df, office_size_max_small=3))
    with pytest.raises(ValueError, match="unknown grouping parameter.*trehshold"):
        make_groupings(df, trehshold=40)


def test_definitions_follow_parameters():
    text = GROUPINGS["financing"].definition(institutional_threshold=60)
    assert "60 %" in text and "50" not in text
    assert GROUPINGS["affectedness"].describe(affectedness_high_min=70)["Durch Krise stark betroffen"].startswith("Mindestens 70 %")
    assert list(GROUPINGS["age"].describe(age_cut=50)) == ["U50", "Ü50"]
    with pytest.raises(ValueError, match="no parameter"):
        GROUPINGS["gender"].describe(age_cut=40)


def test_groupings_table_matches_the_group_labels():
    df = _respondents()
    table = groupings_table(institutional_threshold=50, age_cut=40)
    assert list(table.columns) == ["key", "Merkmal", "Grundlage", "Einteilung", "Ausprägung"]
    made = make_groupings(df)
    for key in STANDARD_GROUPINGS:
        assert list(table.loc[table["key"] == key, "Einteilung"]) == list(made[key].cat.categories)
    assert list(groupings_table(("financing_four",))["Einteilung"]) == list(financing_four(df).cat.categories)
    with pytest.raises(ValueError, match="unknown grouping key"):
        groupings_table(("nope",))


def test_registry_entries_call_their_function():
    df = _respondents()
    for key, grouping in GROUPINGS.items():
        assert grouping.key == key and grouping.title
        pd.testing.assert_series_equal(grouping(df), grouping.function(df))


def test_non_frame_input():
    with pytest.raises(TypeError, match="DataFrame"):
        groups.gender([1, 2])


def test_role_labels_come_from_the_codebook():
    from clusterkrise.codebook import load_codebook

    expected = load_codebook().labels("D11")["D11_community"]
    df = pd.DataFrame({"D11_community": [1, 0], "D11_projektmanagement": [0, 1]})
    assert list(role(df, "community").cat.categories) == [expected, "andere Aufgaben"]


def test_groupings_on_the_shipped_survey():
    from clusterkrise import PROJECT_ROOT
    from clusterkrise.io import load_survey

    df = load_survey(PROJECT_ROOT / "data" / "survey" / "responses.csv")
    for key, s in make_groupings(df).items():
        assert s.index.equals(df.index), key
        assert all(n > 0 for n in s.attrs["group_sizes"].values()), key
        assert sum(s.attrs["left_out"].values()) == s.isna().sum(), key


def test_grouping_by_name_picks_its_own_parameters_and_knows_roles():
    from clusterkrise.io import load_survey

    from clusterkrise import DATA_DIR

    df = load_survey(DATA_DIR / "survey" / "responses.csv", clean=True)
    params = {"institutional_threshold": 60, "office_size_max_small": 8, "affectedness_low_max": 20, "affectedness_high_min": 90, "age_cut": 50}
    size = groups.grouping(df, "office_size", **params)
    pd.testing.assert_series_equal(size, groups.office_size(df, office_size_max_small=8))
    four = groups.grouping(df, "financing_four", **params)
    pd.testing.assert_series_equal(four, groups.financing_four(df, institutional_threshold=60))
    role = groups.grouping(df, "role:projektmanagement")
    assert list(role.cat.categories) == ["Projektmanagement", "andere Aufgaben"]
    with pytest.raises(KeyError, match="unknown grouping"):
        groups.grouping(df, "height")
