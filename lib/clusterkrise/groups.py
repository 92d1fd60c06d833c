"""Comparison groups of the study (Tab. 4 and sections 6.1.4, 6.1.5, 6.1.8, 6.2, 7.1.2).

Every function takes the respondent DataFrame (column names as in docs/architecture.md) and its
thresholds as keyword arguments, and returns a ``pandas.Series`` on the same index holding an
ordered ``Categorical``. Respondents who cannot be placed in a group are NaN; why they were left
out is counted in ``series.attrs["left_out"]`` (``{reason: count}``) and the size of every group,
including empty ones, in ``series.attrs["group_sizes"]``. A threshold that empties a group is not
an error here: the U-test reports the empty group, and the attrs make it visible beforehand.

``GROUPINGS`` documents each grouping (German title, the question it is based on, and a per-group
definition with the thresholds filled in) so that Tab. 4 is generated from the same parameters the
analysis uses; ``groupings_table`` builds that table and ``make_groupings`` builds the standard set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "STATES",
    "EAST_STATES",
    "AGE_BANDS",
    "DEFAULT_TASK_LABELS",
    "Grouping",
    "GROUPINGS",
    "STANDARD_GROUPINGS",
    "east_west",
    "financing_institutional",
    "financing_four",
    "affectedness",
    "office_size",
    "age_group",
    "gender",
    "role",
    "make_groupings",
    "grouping",
    "groupings_table",
]

STATES = ("BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH")
# The five "neue Länder"; Berlin is handled by the ``berlin`` parameter because it straddled the border.
EAST_STATES = ("BB", "MV", "SN", "ST", "TH")

# D9_age answer codes -> (lower, upper) age in years; the top band is open.
AGE_BANDS: dict[int, tuple[int, int | None]] = {
    1: (21, 30),
    2: (31, 40),
    3: (41, 50),
    4: (51, 60),
    5: (61, 70),
    6: (71, None),
}

# Fallback task labels for D11 when neither ``labels=`` nor the codebook (items of D11 in
# data/codebook.yaml) can be used; keys are the codebook's column suffixes.
DEFAULT_TASK_LABELS: dict[str, str] = {
    "geschaeftsfuehrung": "Geschäftsführung",
    "projektmanagement": "Projektmanagement",
    "pr_kommunikation": "PR und Kommunikation",
    "administration_finanzen": "Administration und Finanzen",
}

FINANCING_COLUMNS = ("D4_institutionell", "D4_projekt", "D4_mitglieder", "D4_sonstige")

LEFT_NO_ANSWER = "keine Angabe"


# --------------------------------------------------------------------------------------------------
# helpers


def _require_frame(df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame of respondents, got {type(df).__name__}")


def _require_columns(df: pd.DataFrame, columns: list[str] | tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the respondent data lacks column(s) {', '.join(missing)}")


def _numeric(df: pd.DataFrame, column: str) -> pd.Series:
    """The column as float; text that is not a number is an error, not a silent NaN."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & values.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
        raise ValueError(f"column {column} holds non-numeric values ({examples})")
    return values.astype(float)


def _check_range(name: str, value: Any, low: float | None, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if np.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise ValueError(f"{name}={value!r} lies outside the allowed range {bounds}")
    return float(value)


def _check_values(values: pd.Series, allowed: set[float], column: str) -> None:
    bad = values.notna() & ~values.isin(list(allowed))
    if bad.any():
        examples = ", ".join(str(v) for v in sorted(values[bad].unique())[:5])
        raise ValueError(f"column {column} holds codes outside {sorted(allowed)}: {examples}")


def _ticked(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Which respondents ticked each 0/1 column (a multiple-choice question)."""
    block = df[columns]
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in block.dtypes):
        # the loader's numeric columns: one array for all of them instead of a conversion per column
        values = block.to_numpy(dtype=float, na_value=np.nan)
        if np.all(np.isnan(values) | (values == 0) | (values == 1)):
            return pd.DataFrame(values == 1, index=df.index, columns=columns)
    ticks = {}
    for col in columns:  # column by column, so that an error names the first bad column
        values = _numeric(df, col)
        _check_values(values, {0.0, 1.0}, col)
        ticks[col] = values.eq(1)
    return pd.DataFrame(ticks)


def _finish(labels: pd.Series, categories: list[str], left_out: dict[str, int], name: str) -> pd.Series:
    """Ordered Categorical Series with the bookkeeping attrs every grouping carries."""
    out = pd.Series(pd.Categorical(labels, categories=categories, ordered=True), index=labels.index, name=name)
    out.attrs["left_out"] = {reason: int(n) for reason, n in left_out.items() if n > 0}
    counts = out.value_counts(sort=False)
    out.attrs["group_sizes"] = {str(c): int(counts.get(c, 0)) for c in categories}
    return out


def _blank(df: pd.DataFrame) -> pd.Series:
    return pd.Series(np.full(len(df), None, dtype=object), index=df.index)


# --------------------------------------------------------------------------------------------------
# cluster characteristics


def east_west(df: pd.DataFrame, *, berlin: str = "east", multi_state: str = "exclude") -> pd.Series:
    """East vs West from the federal states a cluster is active in (D1_<state>, multiple choice).

    East is BB, MV, SN, ST, TH; Berlin counts as East by default (``berlin="east"``) because the
    former East German states are usually reported together with Berlin and the study does not
    say otherwise; ``berlin="west"`` moves it, ``berlin="exclude"`` ignores a Berlin tick (a
    cluster active only in Berlin is then left out).

    A cluster active in several states is East (West) when all its states lie on that side. A mix
    cannot be attributed to one side without a rule the study does not give, so by default it is
    left out (``multi_state="exclude"``); ``multi_state="majority"`` assigns the side with more
    states and leaves out exact draws.
    """
    _require_frame(df)
    if berlin not in ("east", "west", "exclude"):
        raise ValueError(f"berlin must be 'east', 'west' or 'exclude', got {berlin!r}")
    if multi_state not in ("exclude", "majority"):
        raise ValueError(f"multi_state must be 'exclude' or 'majority', got {multi_state!r}")
    columns = [f"D1_{s}" for s in STATES]
    _require_columns(df, columns, "east_west")

    east = set(EAST_STATES) | ({"BE"} if berlin == "east" else set())
    west = set(STATES) - set(EAST_STATES) - {"BE"} | ({"BE"} if berlin == "west" else set())
    ticked = _ticked(df, columns)
    ticked.columns = list(STATES)
    n_east = ticked[sorted(east)].sum(axis=1)
    n_west = ticked[sorted(west)].sum(axis=1)
    answered = ticked.any(axis=1)

    labels = _blank(df)
    labels.loc[(n_east > 0) & (n_west == 0)] = "Ost"
    labels.loc[(n_west > 0) & (n_east == 0)] = "West"
    mixed = (n_east > 0) & (n_west > 0)
    left_out = {
        LEFT_NO_ANSWER: int((~answered).sum()),
        "nur Berlin (ausgeschlossen)": int((answered & (n_east == 0) & (n_west == 0)).sum()),
    }
    if multi_state == "exclude":
        left_out["Bundesländer in Ost und West"] = int(mixed.sum())
    else:
        labels.loc[mixed & (n_east > n_west)] = "Ost"
        labels.loc[mixed & (n_west > n_east)] = "West"
        left_out["gleich viele Bundesländer in Ost und West"] = int((mixed & (n_east == n_west)).sum())
    return _finish(labels, ["Ost", "West"], left_out, "east_west")


def _financing_shares(df: pd.DataFrame, columns: tuple[str, ...]) -> tuple[pd.DataFrame, pd.Series]:
    """Shares in percent and the mask of rows without any share.

    In a constant-sum question an empty field next to filled ones means 0 %, so blanks count as 0
    once a respondent filled at least one share; a respondent with no share at all is left out.
    """
    shares = pd.DataFrame({c: _numeric(df, c) for c in columns})
    bad = (shares < 0) | (shares > 100)
    if bad.any().any():
        col = bad.any()[lambda s: s].index[0]
        raise ValueError(f"column {col} holds financing shares outside 0..100 percent")
    none = shares.isna().all(axis=1)
    return shares.fillna(0.0), none


def financing_institutional(df: pd.DataFrame, *, institutional_threshold: float = 50) -> pd.Series:
    """Mostly institutional financing (D4_institutionell >= institutional_threshold percent) vs the rest.

    Rows without any D4 share are left out ("Finanzierungsanteile fehlen").
    """
    _require_frame(df)
    institutional_threshold = _check_range("institutional_threshold", institutional_threshold, 0, 100)
    _require_columns(df, ["D4_institutionell"], "financing_institutional")
    present = tuple(c for c in FINANCING_COLUMNS if c in df.columns)
    shares, none = _financing_shares(df, present)
    labels = _blank(df)
    inst = shares["D4_institutionell"]
    labels.loc[~none & (inst >= institutional_threshold)] = "Größtenteils institutionell finanziert"
    labels.loc[~none & (inst < institutional_threshold)] = "Sonstige Finanzierung"
    return _finish(
        labels,
        ["Größtenteils institutionell finanziert", "Sonstige Finanzierung"],
        {"Finanzierungsanteile fehlen": int(none.sum())},
        "financing",
    )


FINANCING_FOUR_LABELS = {
    "D4_institutionell": "Größtenteils institutionell-finanziert",
    "D4_projekt": "Größtenteils projekt-finanziert",
    "D4_mitglieder": "Größtenteils durch Mitglieder finanziert",
}
FINANCING_MIXED = "Gemischt/Sonstige Finanzierung"


def financing_four(df: pd.DataFrame, *, institutional_threshold: float = 50) -> pd.Series:
    """The four financing groups of Abb. 7.

    A respondent whose institutional, project or membership share reaches ``institutional_threshold`` percent is
    "größtenteils" financed that way; everyone else, including those whose largest share is
    "sonstige" and those with two sources tied at the top (e.g. 50/50), is "Gemischt/Sonstige".
    With a threshold below 50 several sources can qualify; the largest one wins.
    """
    _require_frame(df)
    institutional_threshold = _check_range("institutional_threshold", institutional_threshold, 0, 100)
    _require_columns(df, list(FINANCING_COLUMNS), "financing_four")
    shares, none = _financing_shares(df, FINANCING_COLUMNS)
    main = shares[list(FINANCING_FOUR_LABELS)]
    top = main.max(axis=1)
    n_top = main.eq(top, axis=0).sum(axis=1)
    winner = main.idxmax(axis=1)
    labels = pd.Series(FINANCING_MIXED, index=df.index, dtype=object)
    clear = (top >= institutional_threshold) & (n_top == 1)
    labels.loc[clear] = winner[clear].map(FINANCING_FOUR_LABELS)
    labels.loc[none] = None
    return _finish(
        labels,
        [*FINANCING_FOUR_LABELS.values(), FINANCING_MIXED],
        {"Finanzierungsanteile fehlen": int(none.sum())},
        "financing_four",
    )


def affectedness(
    df: pd.DataFrame, *, affectedness_low_max: float = 30, affectedness_high_min: float = 80, column: str = "A3_companies"
) -> pd.Series:
    """Share of member companies hit by the crisis (A3, percent in steps of 10).

    ``<= affectedness_low_max`` is "gering betroffen", ``>= affectedness_high_min`` "stark betroffen", anything between is
    left out. Tab. 4 of the study gives the upper band as 80-100 while its section 6.1.8 speaks of
    70 % and more; the default follows Tab. 4, and ``affectedness_high_min=70`` gives the other reading.
    """
    _require_frame(df)
    affectedness_low_max = _check_range("affectedness_low_max", affectedness_low_max, 0, 100)
    affectedness_high_min = _check_range("affectedness_high_min", affectedness_high_min, 0, 100)
    if not affectedness_low_max < affectedness_high_min:
        raise ValueError(f"affectedness_low_max ({affectedness_low_max:g}) must be smaller than affectedness_high_min ({affectedness_high_min:g})")
    _require_columns(df, [column], "affectedness")
    values = _numeric(df, column)
    if ((values < 0) | (values > 100)).any():
        raise ValueError(f"column {column} holds percentages outside 0..100")
    labels = _blank(df)
    labels.loc[values <= affectedness_low_max] = "Durch Krise gering betroffen"
    labels.loc[values >= affectedness_high_min] = "Durch Krise stark betroffen"
    middle = (values > affectedness_low_max) & (values < affectedness_high_min)
    return _finish(
        labels,
        ["Durch Krise gering betroffen", "Durch Krise stark betroffen"],
        {LEFT_NO_ANSWER: int(values.isna().sum()), "mittlere Betroffenheit": int(middle.sum())},
        "affectedness",
    )


def office_size(df: pd.DataFrame, *, office_size_max_small: float = 5) -> pd.Series:
    """Small (``D5_staff <= office_size_max_small``) vs large cluster management offices (section 6.1.5)."""
    _require_frame(df)
    office_size_max_small = _check_range("office_size_max_small", office_size_max_small, 0, None)
    _require_columns(df, ["D5_staff"], "office_size")
    staff = _numeric(df, "D5_staff")
    if (staff < 0).any():
        raise ValueError("column D5_staff holds negative staff numbers")
    labels = _blank(df)
    labels.loc[staff <= office_size_max_small] = "Kleine Clustermanagements"
    labels.loc[staff > office_size_max_small] = "Große Clustermanagements"
    return _finish(
        labels,
        ["Kleine Clustermanagements", "Große Clustermanagements"],
        {LEFT_NO_ANSWER: int(staff.isna().sum())},
        "office_size",
    )


# --------------------------------------------------------------------------------------------------
# respondent characteristics


def _age_edges() -> list[int]:
    return [upper for _, upper in AGE_BANDS.values() if upper is not None]


def age_group(df: pd.DataFrame, *, age_cut: int = 40) -> pd.Series:
    """Younger vs older respondents from the age bands of D9 (section 6.2.2).

    Only band edges can separate the groups, because the questionnaire asked for bands, not
    ages: ``age_cut`` must be the upper bound of a band (30, 40, 50, 60 or 70). Bands ending at or
    below ``age_cut`` form "U<age_cut>", the others "Ü<age_cut>".
    """
    _require_frame(df)
    edges = _age_edges()
    if isinstance(age_cut, bool) or age_cut not in edges:
        raise ValueError(f"age_cut={age_cut!r} is not an upper edge of the D9 age bands; choose one of {edges}")
    _require_columns(df, ["D9_age"], "age_group")
    codes = _numeric(df, "D9_age")
    _check_values(codes, {float(c) for c in AGE_BANDS}, "D9_age")
    young_codes = [c for c, (_, upper) in AGE_BANDS.items() if upper is not None and upper <= age_cut]
    young, old = f"U{age_cut}", f"Ü{age_cut}"
    labels = _blank(df)
    labels.loc[codes.isin(young_codes)] = young
    labels.loc[codes.notna() & ~codes.isin(young_codes)] = old
    return _finish(labels, [young, old], {LEFT_NO_ANSWER: int(codes.isna().sum())}, "age")


def gender(df: pd.DataFrame) -> pd.Series:
    """Women vs men (D8_gender 1/2); "divers" (3) is too rare for a group of its own and is left out."""
    _require_frame(df)
    _require_columns(df, ["D8_gender"], "gender")
    codes = _numeric(df, "D8_gender")
    _check_values(codes, {1.0, 2.0, 3.0}, "D8_gender")
    labels = _blank(df)
    labels.loc[codes == 1] = "weiblich"
    labels.loc[codes == 2] = "männlich"
    return _finish(
        labels,
        ["weiblich", "männlich"],
        {"divers": int((codes == 3).sum()), LEFT_NO_ANSWER: int(codes.isna().sum())},
        "gender",
    )


def _codebook_task_labels() -> dict[str, str]:
    """D11 task labels from the codebook, keyed by task; empty when the codebook is unavailable."""
    try:
        from clusterkrise.codebook import load_codebook

        return {column[len("D11_") :]: label for column, label in load_codebook().labels("D11").items()}
    except (ImportError, OSError, KeyError, ValueError):
        return {}


def role(df: pd.DataFrame, task: str, *, labels: Mapping[str, str] | None = None) -> pd.Series:
    """Respondents with task ``task`` in D11 vs respondents who named only other tasks (7.1.2).

    Respondents who ticked no D11 task at all did not answer the question and are left out. The
    group label is ``labels[task]`` ({task: label}) when given, else the codebook's label of
    item ``D11_<task>``, else ``DEFAULT_TASK_LABELS``, else the task key.
    """
    _require_frame(df)
    task_columns = [c for c in df.columns if isinstance(c, str) and c.startswith("D11_")]
    if not task_columns:
        raise ValueError("role: the respondent data has no D11_<task> columns")
    column = f"D11_{task}"
    if column not in task_columns:
        known = ", ".join(c[4:] for c in task_columns)
        raise ValueError(f"role: unknown task {task!r}; the data has D11 tasks {known}")
    ticked = _ticked(df, task_columns)
    answered = ticked.any(axis=1)
    task_label = (labels or {}).get(task) or _codebook_task_labels().get(task) or DEFAULT_TASK_LABELS.get(task) or task
    other = "andere Aufgaben"
    if task_label == other:
        raise ValueError(f"role: the label of task {task!r} must differ from {other!r}")
    out = _blank(df)
    out.loc[ticked[column]] = task_label
    out.loc[answered & ~ticked[column]] = other
    return _finish(out, [task_label, other], {"keine Aufgabe angegeben": int((~answered).sum())}, f"role_{task}")


# --------------------------------------------------------------------------------------------------
# registry (Tab. 4)


@dataclass(frozen=True)
class Grouping:
    """One comparison grouping: how to build it and how Tab. 4 describes it.

    ``definitions`` maps each group label to a German definition template; ``{name}`` fields are
    filled from the parameters (defaults from ``defaults``) by :meth:`describe`.
    """

    key: str
    function: Callable[..., pd.Series]
    title: str
    basis: str
    definitions: Mapping[str, str]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.defaults)

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"grouping {self.key!r} has no parameter(s) {', '.join(sorted(unknown))}")
        return {**self.defaults, **params}

    def describe(self, **params: Any) -> dict[str, str]:
        """Group label -> definition text with the thresholds filled in (labels follow the params too)."""
        values = self._params(params)
        fill = {k: (f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in values.items()}
        return {label.format(**fill): text.format(**fill) for label, text in self.definitions.items()}

    def definition(self, **params: Any) -> str:
        """All group definitions of this grouping in one German sentence-like line."""
        return "; ".join(f"{label}: {text}" for label, text in self.describe(**params).items())

    def __call__(self, df: pd.DataFrame, **params: Any) -> pd.Series:
        return self.function(df, **self._params(params))


GROUPINGS: dict[str, Grouping] = {
    "east_west": Grouping(
        key="east_west",
        function=east_west,
        title="Bundesländer",
        basis="D1",
        definitions={
            "Ost": "Cluster ausschließlich in östlichen Bundesländern aktiv",
            "West": "Cluster ausschließlich in westlichen Bundesländern aktiv",
        },
        defaults={"berlin": "east", "multi_state": "exclude"},
    ),
    "financing": Grouping(
        key="financing",
        function=financing_institutional,
        title="Finanzierung",
        basis="D4",
        definitions={
            "Größtenteils institutionell finanziert": "Institutioneller Anteil mindestens {institutional_threshold} %",
            "Sonstige Finanzierung": "Institutioneller Anteil unter {institutional_threshold} %",
        },
        defaults={"institutional_threshold": 50},
    ),
    "financing_four": Grouping(
        key="financing_four",
        function=financing_four,
        title="Finanzierungsquellen",
        basis="D4",
        definitions={
            "Größtenteils institutionell-finanziert": "Institutioneller Anteil mindestens {institutional_threshold} %",
            "Größtenteils projekt-finanziert": "Projektanteil mindestens {institutional_threshold} %",
            "Größtenteils durch Mitglieder finanziert": "Mitgliederanteil mindestens {institutional_threshold} %",
            "Gemischt/Sonstige Finanzierung": "Keine dieser Quellen erreicht allein {institutional_threshold} %",
        },
        defaults={"institutional_threshold": 50},
    ),
    "affectedness": Grouping(
        key="affectedness",
        function=affectedness,
        title="Betroffenheit",
        basis="A3",
        definitions={
            "Durch Krise gering betroffen": "Höchstens {affectedness_low_max} % der Unternehmen negativ betroffen",
            "Durch Krise stark betroffen": "Mindestens {affectedness_high_min} % der Unternehmen negativ betroffen",
        },
        defaults={"affectedness_low_max": 30, "affectedness_high_min": 80},
    ),
    "office_size": Grouping(
        key="office_size",
        function=office_size,
        title="Größe des Clustermanagements",
        basis="D5",
        definitions={
            "Kleine Clustermanagements": "Höchstens {office_size_max_small} Mitarbeiter:innen",
            "Große Clustermanagements": "Mehr als {office_size_max_small} Mitarbeiter:innen",
        },
        defaults={"office_size_max_small": 5},
    ),
    "age": Grouping(
        key="age",
        function=age_group,
        title="Alter",
        basis="D9",
        definitions={
            "U{age_cut}": "Altersgruppen bis einschließlich {age_cut} Jahre",
            "Ü{age_cut}": "Altersgruppen über {age_cut} Jahre",
        },
        defaults={"age_cut": 40},
    ),
    "gender": Grouping(
        key="gender",
        function=gender,
        title="Geschlecht",
        basis="D8",
        definitions={"weiblich": "Angabe weiblich", "männlich": "Angabe männlich"},
        defaults={},
    ),
}

STANDARD_GROUPINGS = ("east_west", "financing", "affectedness", "office_size", "age", "gender")


def _split_params(keys: tuple[str, ...], params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    owner: dict[str, str] = {}
    for key in keys:
        for name in GROUPINGS[key].params:
            if name in owner:  # pragma: no cover - guards future edits of GROUPINGS
                raise RuntimeError(f"parameter {name!r} is shared by {owner[name]} and {key}")
            owner[name] = key
    unknown = sorted(set(params) - set(owner))
    if unknown:
        raise ValueError(f"unknown grouping parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(owner))}")
    split: dict[str, dict[str, Any]] = {key: {} for key in keys}
    for name, value in params.items():
        split[owner[name]][name] = value
    return split


def make_groupings(df: pd.DataFrame, **params: Any) -> dict[str, pd.Series]:
    """The standard comparison groupings ``{key: Series}`` (``STANDARD_GROUPINGS``).

    Parameters are the thresholds of the single functions, e.g. ``institutional_threshold=50, affectedness_low_max=30,
    affectedness_high_min=80, office_size_max_small=5, age_cut=40, berlin="east", multi_state="exclude"``.
    """
    split = _split_params(STANDARD_GROUPINGS, params)
    return {key: GROUPINGS[key](df, **split[key]) for key in STANDARD_GROUPINGS}


def grouping(df: pd.DataFrame, name: str, **params: Any) -> pd.Series:
    """One grouping by name: a key of ``GROUPINGS`` or ``"role:<task>"``.

    ``params`` may hold the thresholds of every grouping (as ``make_groupings`` takes them); the
    grouping picks the ones it uses, so callers can pass one parameter set for all names.
    """
    if name.startswith("role:"):
        return role(df, name.split(":", 1)[1])
    if name not in GROUPINGS:
        raise KeyError(f"unknown grouping {name!r}; known: {', '.join(GROUPINGS)} and role:<task>")
    entry = GROUPINGS[name]
    return entry(df, **{k: v for k, v in params.items() if k in entry.params})


def groupings_table(keys: tuple[str, ...] = STANDARD_GROUPINGS, **params: Any) -> pd.DataFrame:
    """Tab. 4 as a tidy table: one row per group with Merkmal, Grundlage (question), Einteilung, Ausprägung."""
    unknown = [k for k in keys if k not in GROUPINGS]
    if unknown:
        raise ValueError(f"unknown grouping key(s) {', '.join(unknown)}; known: {', '.join(GROUPINGS)}")
    split = _split_params(tuple(keys), params)
    rows = []
    for key in keys:
        grouping = GROUPINGS[key]
        for label, text in grouping.describe(**split[key]).items():
            rows.append(
                {"key": key, "Merkmal": grouping.title, "Grundlage": grouping.basis, "Einteilung": label, "Ausprägung": text}
            )
    return pd.DataFrame(rows, columns=["key", "Merkmal", "Grundlage", "Einteilung", "Ausprägung"])
