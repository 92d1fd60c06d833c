"""The respondent data a chapter analyses: loaded once, cleaned by one rule, read through the codebook.

``Survey.load(params)`` reads ``params.data_path`` (validated against the codebook), keeps every
started interview in ``started`` and the cleaned ones (:func:`clusterkrise.io.apply_cleaning`, the
study's rule from 5.4) in ``data``. Everything else is a lookup in the codebook: the item columns
of a question, their labels, the scale's special answers, who answered a question.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .codebook import Codebook, load_codebook
from .params import ParameterError, Params

__all__ = ["Survey"]


@dataclass
class Survey:
    started: pd.DataFrame
    data: pd.DataFrame
    codebook: Codebook
    params: Params

    @classmethod
    def load(cls, params: Params, *, codebook: Codebook | None = None) -> "Survey":
        from .io import apply_cleaning, load_survey

        path = params.data_file
        try:
            exists = path.is_file()
        except OSError as exc:  # e.g. a symlink loop
            raise ParameterError(f"Datendatei nicht lesbar: {path} ({exc.strerror or exc})") from None
        if not exists:
            raise ParameterError(f"Datendatei nicht gefunden: {path} (Parameter data_path={params.data_path!r})")
        cb = codebook or load_codebook()
        mapping = params.mapping_file
        if mapping is not None and not mapping.is_file():
            raise ParameterError(f"Mapping-Datei nicht gefunden: {mapping} (Parameter mapping={params.mapping!r})")
        if codebook is None:  # the project's codebook: one load per build (clusterkrise.datacache)
            from .codebook import CODEBOOK_PATH
            from .datacache import cached_load

            started = cached_load(lambda: load_survey(path, codebook=cb, mapping=mapping),
                                  [path, *([mapping] if mapping is not None else []), Path(CODEBOOK_PATH)])
        else:
            started = load_survey(path, codebook=cb, mapping=mapping)
        survey = cls(started=started, data=apply_cleaning(started, cb), codebook=cb, params=params)
        survey.require_groups()
        return survey

    def require_groups(self) -> None:
        """Stop with a German message when the thresholds leave a comparison group empty."""
        from . import groups

        made = groups.make_groupings(self.data, **self.params.grouping)
        empty = [
            f"{name}: Gruppe '{label}' ist leer"
            for name, series in made.items()
            for label, size in (series.attrs.get("group_sizes") or series.value_counts().to_dict()).items()
            if size == 0
        ]
        if empty:
            raise ParameterError("Die Schwellenwerte leeren eine Vergleichsgruppe:\n  " + "\n  ".join(empty))

    # -- codebook lookups ------------------------------------------------------------------------
    def items(self, question: str) -> list[str]:
        """The data columns of a question, in questionnaire order."""
        return self.codebook.items_of(question)

    def labels(self, question: str) -> dict[str, str]:
        return self.codebook.labels(question)

    def label(self, column: str) -> str:
        return self.codebook.item(column).label

    def scale(self, question: str):
        return self.codebook.question(question).scale

    def special(self, question: str) -> dict[str, list[int]]:
        """Special answer codes ("nicht relevant", "nicht betroffen", ...) per item column of a question."""
        q = self.codebook.question(question)
        return {c: list(q.scale.special) for c in q.columns}

    # -- who answered ----------------------------------------------------------------------------
    def _answered_mask(self, question: str, frame: pd.DataFrame) -> pd.Series:
        return frame[self.items(question)].notna().any(axis=1)

    def answered(self, question: str, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """Cleaned respondents (or those of ``frame``) who answered at least one item of the question."""
        frame = self.data if frame is None else frame
        return frame.loc[self._answered_mask(question, frame)]

    def n_answered(self, question: str) -> int:
        """How many cleaned respondents answered at least one item of the question (the N printed with its
        figures): ``len(answered(question))`` without copying their rows (a fifth of a second over a book)."""
        return int(self._answered_mask(question, self.data).sum())

    def complete(self, question: str) -> pd.DataFrame:
        """Cleaned respondents who answered every item of the question."""
        return self.data.loc[self.data[self.items(question)].notna().all(axis=1)]

    def test_options(self, columns: Sequence[str]) -> dict[str, Any]:
        """Keyword arguments of :func:`clusterkrise.utests.compare_groups` that come from the
        parameters (alpha, minimum group size) and the codebook (labels, special codes) for ``columns``."""
        return {
            "alpha": float(self.params.alpha),
            "min_group_size": int(self.params.min_group_size),
            "item_labels": {c: self.label(c) for c in columns},
            "special_codes": {c: list(self.codebook.question_of(c).scale.special) for c in columns},
        }
