"""German number formatting for the book: one rounding rule, one notation.

Every number the book prints goes through this module, whether in prose (notebook values), table
cells or figure labels, so the same share never prints as 12 % in one place and 13 % in another.

The rounding rule is "half up" on the decimal value, as people round by hand and as the study
prints its numbers (12.5 -> 13, 58.45 -> 58.5). Floats are first cut to 9 decimals so that
binary noise such as 14.499999999999998 (= 0.145 * 100) rounds as the 14.5 it stands for.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Sequence

__all__ = [
    "round_half_up",
    "number",
    "percent",
    "percent_of",
    "signed",
    "level",
    "german_list",
    "count_of",
    "in_sentence",
    "item_list",
]

MINUS = "\u2212"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def round_half_up(x: float, decimals: int = 0) -> float:
    """``x`` rounded half up to ``decimals`` places (the one rounding rule of the book)."""
    if _missing(x):
        return float("nan")
    quantum = Decimal(1).scaleb(-decimals)
    rounded = Decimal(f"{float(x):.9f}").quantize(quantum, rounding=ROUND_HALF_UP)
    return float(rounded) + 0.0  # + 0.0 turns -0.0 into 0.0


def number(x: float, decimals: int = 0) -> str:
    """German notation: decimal comma, dot between thousands, real minus sign, no "−0"."""
    if _missing(x):
        return "–"
    value = round_half_up(x, decimals)
    text = f"{abs(value):,.{decimals}f}".replace(",", "\u0000").replace(".", ",").replace("\u0000", ".")
    return (MINUS + text) if value < 0 else text


def percent(share: float, decimals: int = 0) -> str:
    """A fraction (0..1) as a German percentage number without the sign: ``0.585 -> "58,5"`` (decimals=1)."""
    if _missing(share):
        return "–"
    return number(float(share) * 100, decimals)


def percent_of(share: float, decimals: int = 0) -> str:
    """Like :func:`percent` with a narrow space and the percent sign: ``"41 %"`` (figure labels, table cells)."""
    return f"{percent(share, decimals)}\u202f%"


def signed(x: float, decimals: int = 1) -> str:
    """A value on a bipolar scale with its sign: ``+0,8`` / ``−1,2`` / ``0,0``."""
    text = number(x, decimals)
    if not _missing(x) and round_half_up(x, decimals) > 0:
        return "+" + text
    return text


def level(alpha: float) -> str:
    """The significance level as German compound: ``0.10 -> "10-%-Niveau"``, ``0.025 -> "2,5-%-Niveau"``."""
    pct = float(alpha) * 100
    decimals = 0
    while decimals < 4 and abs(round_half_up(pct, decimals) - pct) > 1e-9:
        decimals += 1
    return f"{number(pct, decimals)}-%-Niveau"


def german_list(words: Iterable[str], *, empty: str = "keine", conjunction: str = "und") -> str:
    """"A, B und C"; semicolons when a label holds a comma itself, so the items stay apart."""
    words = [str(w) for w in words]
    if not words:
        return empty
    if len(words) == 1:
        return words[0]
    separator = "; " if any("," in w for w in words) else ", "
    return separator.join(words[:-1]) + f" {conjunction} " + words[-1]


_ADJECTIVE_ENDINGS = ("e", "er", "es", "en", "em")


def _capitalised_word(word: str) -> bool:
    return word[:1].isalpha() and word[:1].isupper()


def in_sentence(label: str) -> str:
    """An item label as it reads inside a running sentence.

    Labels are written as headings ("Ausfallende analoge Veranstaltungen"); inside a sentence an
    adjective or participle at the start is written small ("… und ausfallende analoge
    Veranstaltungen"), while nouns, names and abbreviations keep their capital. A first word counts as
    adjective when it has an adjective ending and is followed by a noun, directly or after one more
    such adjective ("Neue Liefer- und Absatzkanäle", "Ausfallende analoge Veranstaltungen"); so
    "Austritte von Mitgliedern" or "Unternehmensvorstellungen (Pitch)" stay as they are.
    """
    words = label.split()
    if len(words) < 2 or not _capitalised_word(words[0]) or words[0].isupper():
        return label
    first = words[0]
    if not first.isalpha() or not first.lower().endswith(_ADJECTIVE_ENDINGS):
        return label
    second = words[1]
    follows_noun = _capitalised_word(second) or (
        second.isalpha() and second.islower() and second.endswith(_ADJECTIVE_ENDINGS)
        and len(words) > 2 and _capitalised_word(words[2])
    )
    return first[:1].lower() + label[1:] if follows_noun else label


def item_list(labels: Iterable[str], *, empty: str = "keine", conjunction: str = "und") -> str:
    """Item labels as a list inside a sentence: :func:`german_list` of :func:`in_sentence` labels.

    A single label is left as written, because the prose quotes a lone item („…“)."""
    labels = [str(w) for w in labels]
    if len(labels) < 2:
        return german_list(labels, empty=empty, conjunction=conjunction)
    return german_list([in_sentence(w) for w in labels], empty=empty, conjunction=conjunction)


def count_of(k: int, n: int, singular: str, plural: str, *, genus: str = "n") -> str:
    """A count out of a total that reads well for 0, 1, some and all.

    ``count_of(3, 12, "Item", "Items")`` -> "3 der 12 Items"; all -> "alle 12 Items";
    none -> "keines der 12 Items" (``genus`` "m"/"f"/"n" picks keiner/keine/keines);
    one -> "eines der 12 Items"; a total of one -> "das Item" / "kein Item".
    """
    k, n = int(k), int(n)
    article = {"m": ("einer", "keiner", "der", "kein"), "f": ("eine", "keine", "die", "keine"),
               "n": ("eines", "keines", "das", "kein")}[genus]
    if n == 1:
        return f"{article[2]} {singular}" if k == 1 else f"{article[3]} {singular}"
    if k == n:
        return f"alle {n} {plural}"
    if k == 0:
        return f"{article[1]} der {n} {plural}"
    if k == 1:
        return f"{article[0]} der {n} {plural}"
    return f"{k} der {n} {plural}"


def labels_of(items: Sequence[str], labels: dict[str, str]) -> list[str]:
    """Item ids to their labels, in the given order."""
    return [labels[i] for i in items]
