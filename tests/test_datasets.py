from __future__ import annotations

from pathlib import Path

import pytest

from harness.datasets import ReferenceDataset, find_card, load_dataset, matches
from harness.errors import DatasetError


def test_adult_reproduces_the_published_base_rates(adult: ReferenceDataset) -> None:
    """Card + mirror give UCI Adult as published: 24.1 % >50K, 30.6 % of men, 10.9 % of women."""
    y = adult.y_favorable
    assert len(adult.frame) == 32561
    assert y.sum() == 7841 and round(y.mean(), 3) == 0.241
    sex = adult.frame["sex"]
    assert round(y[(sex == "Male").to_numpy()].mean(), 3) == 0.306
    assert round(y[(sex == "Female").to_numpy()].mean(), 3) == 0.109
    assert adult.sha256 == "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"
    assert (adult.frame["workclass"] == "?").sum() == 1836  # "?" placeholders are kept, not guessed


def test_mirror_folder_from_the_environment(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DATA_DIR", str(mirror))
    assert len(load_dataset("adult").frame) == 32561


def test_unknown_dataset_name_lists_the_catalogue() -> None:
    with pytest.raises(DatasetError) as e:
        find_card("no-such-data")
    assert str(e.value).startswith("no dataset named 'no-such-data': give a catalogue name (adult")


@pytest.mark.parametrize(("values", "target", "expected"), [
    ([1, 0, 1], 1, [True, False, True]),
    (["1", "0"], 1, [True, False]),
    ([1.0, 0.0], "1", [True, False]),
    ([">50K", "<=50K"], ">50K", [True, False]),
    (["yes", "no"], 1, [False, False]),
])
def test_label_matching_tolerates_yaml_and_csv_types(values: list, target: object, expected: list) -> None:
    assert matches(values, target).tolist() == expected


def test_groups_whose_names_would_share_an_mlflow_key_are_refused_with_both_names(tmp_path: Path) -> None:
    import pandas as pd

    from harness.datasets import load_dataset
    from harness.errors import DatasetError
    from tests.conftest import write_card

    folder = tmp_path / "collide"
    folder.mkdir()
    pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "sex": ["F", "M", "F", "M", "F"],
                  "race": ["A", "A+B", "A_B", "C", "C"], "income": [1, 2, 3, 4, 5],
                  "approved": [1, 0, 1, 0, 1]}).to_csv(folder / "data.csv", index=False)
    card = write_card(folder, "collide")
    with pytest.raises(DatasetError) as e:
        load_dataset(str(card))
    assert str(e.value) == ("dataset 'collide': the groups 'A+B' and 'A_B' of protected attribute 'race' would both "
                            "be recorded in MLflow as 'A_B'; rename one in the data (a new data file and card sha256)")
