"""Notebook parameters of the wrong type stop with the German message, not a Python TypeError."""

from __future__ import annotations

import pytest

from clusterkrise.params import DEFAULTS, ParameterError, Params

WRONG = {
    "data_path": 123,
    "output_dir": 4.5,
    "alpha": "0.05",
    "age_cut": 40.5,
    "min_group_size": True,
    "office_size_max_small": "fünf",
    "institutional_threshold": None,
    "affectedness_low_max": [30],
    "affectedness_high_min": "80",
    "mapping": 7,
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_type_gets_the_german_message(name, tmp_path):
    with pytest.raises(ParameterError) as caught:
        Params.of(**{name: WRONG[name]})
    message = str(caught.value)
    assert message.startswith("Ungültige Parameter:")
    assert f"{name} muss" in message and repr(WRONG[name]) in message


def test_every_parameter_has_a_type_check():
    assert set(WRONG) == set(DEFAULTS)
