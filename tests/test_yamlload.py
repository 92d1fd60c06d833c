"""clusterkrise.yamlload: libyaml's speed, PyYAML's values and error messages."""

import pytest
import yaml

from clusterkrise.codebook import CODEBOOK_PATH
from clusterkrise.registry import FACTS_PATH
from clusterkrise.yamlload import load_yaml


@pytest.mark.parametrize("path", [CODEBOOK_PATH, FACTS_PATH], ids=["codebook", "registry"])
def test_the_project_files_load_to_the_same_values_as_with_safe_load(path):
    text = path.read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.safe_load(text)


def test_dates_numbers_and_special_scalars_come_out_as_safe_load_makes_them():
    text = "a: 2021-04-01\nb: 1e3\nc: 0x10\nd: ~\ne: yes\nf: '007'\ng: [1, 2.5, -3]\n"
    assert load_yaml(text) == yaml.safe_load(text)


def test_a_broken_file_raises_pyyamls_error_that_shows_the_line():
    text = "items:\n  - a\n - b\n"
    with pytest.raises(yaml.YAMLError) as caught:
        load_yaml(text)
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    assert str(caught.value) == str(expected.value)
    assert " - b" in str(caught.value), "the message quotes the offending line"
