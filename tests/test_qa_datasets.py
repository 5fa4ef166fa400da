"""Grounded-QA reference datasets: the authored city-services-qa set and the SQuAD 2.0 mirror file."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.datasets import load_card, load_dataset, sha256_file
from harness.errors import DatasetError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def city():
    return load_dataset("city-services-qa")


def test_city_services_loads_with_verified_hash(city):
    assert city.card.task == "grounded-qa"
    assert city.card.read.format == "jsonl"
    assert city.sha256 == city.card.sha256 == sha256_file(ROOT / "datasets/city-services-qa/items.jsonl")
    assert city.card.target is None and city.card.protected_attributes == {}
    assert city.card.license == "CC0-1.0"


def test_city_services_counts(city):
    f = city.frame
    assert len(f) >= 160
    assert f["id"].is_unique
    assert list(f["id"]) == sorted(f["id"])
    assert all(re.fullmatch(r"csq-\d{4}", i) for i in f["id"])
    assert (~f["answerable"].astype(bool)).mean() >= 0.40
    with_digit = sum(any(re.search(r"\d", a) for a in answers) for answers in f["answers"])
    assert with_digit >= 50
    assert sum(len(p) >= 2 for p in f["paraphrases"]) >= 40
    assert set(f["topic"]) == {"permits", "trash-recycling", "transit", "benefits", "public-records", "311"}


def test_city_services_answers_are_spans_of_their_context(city):
    for row in city.frame.itertuples():
        assert isinstance(row.answers, list)
        assert 60 <= len(row.context.split()) <= 150, row.id
        if row.answerable:
            assert row.answers, row.id
            for a in row.answers:
                assert a and a in row.context, (row.id, a)
        else:
            assert row.answers == [], row.id


def test_city_services_file_is_canonical():
    raw = (ROOT / "datasets/city-services-qa/items.jsonl").read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    raw.decode("utf-8")


def test_squad2_mirror(mirror):
    ds = load_dataset("squad2", data_dir=mirror)
    f = ds.frame
    assert len(f) == 6078
    assert int((~f["answerable"]).sum()) == 3168
    assert f["title"].nunique() == 16
    assert f["id"].is_unique
    assert all(a == [] for a in f.loc[~f["answerable"], "answers"])
    answered = f[f["answerable"]]
    assert all(len(a) == len(set(a)) >= 1 for a in answered["answers"])
    assert all(all(x in c for x in a) for a, c in zip(answered["answers"], answered["context"], strict=True))
    assert round(3168 / 6078, 3) == 0.521


def test_qa_card_lacking_columns_is_an_error(tmp_path):
    (tmp_path / "qa.jsonl").write_text('{"id": "q1", "context": "c", "question": "q"}\n', encoding="utf-8")
    digest = sha256_file(tmp_path / "qa.jsonl")
    card = tmp_path / "card.yaml"
    card.write_text(f"name: qa\nversion: '1'\ntask: grounded-qa\nfile: qa.jsonl\nsha256: {digest}\n"
                    f"source: https://example.org\nlicense: CC0-1.0\nread: {{format: jsonl}}\nid_column: id\n")
    with pytest.raises(DatasetError, match=r"answers"):
        load_dataset(str(card))


def test_binary_card_without_protected_attributes_is_an_error(tmp_path):
    card = tmp_path / "card.yaml"
    card.write_text("name: b\nversion: '1'\ntask: binary-classification\nfile: d.csv\nsha256: " + "ab" * 32 + "\n"
                    "source: https://example.org\nlicense: CC0-1.0\ntarget: {column: y, positive: 1}\n"
                    "features: [x]\n")
    with pytest.raises(DatasetError, match=r"binary-classification card must give protected_attributes"):
        load_card(card)
    card.write_text("name: b\nversion: '1'\ntask: binary-classification\nfile: d.csv\nsha256: " + "ab" * 32 + "\n"
                    "source: https://example.org\nlicense: CC0-1.0\nfeatures: [x]\nprotected_attributes: {}\n")
    with pytest.raises(DatasetError, match=r"must give target"):
        load_card(card)


def test_cli_shows_qa_dataset():
    from click.testing import CliRunner

    from harness.cli import main

    result = CliRunner().invoke(main, ["datasets", "show", "city-services-qa"])
    assert result.exit_code == 0, result.output
    assert "verified sha256; 276 items" in result.output and "answerable" in result.output
    result = CliRunner().invoke(main, ["datasets", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "city-services-qa" in result.output


def test_cli_show_tells_missing_data_from_wrong_data(tmp_path):
    """A card whose file is not on this machine is shown (exit 0); a file that is not the card's is an error
    (exit 2): a swapped data file must not read as 'shown' in a script or a cron job."""
    from click.testing import CliRunner

    from harness.cli import main

    card = tmp_path / "card.yaml"
    card.write_text("name: b\nversion: '1'\ntask: binary-classification\nfile: d.csv\nsha256: " + "ab" * 32 + "\n"
                    "source: https://example.org\nlicense: CC0-1.0\nfeatures: [x]\nprotected_attributes: {}\n"
                    "target: {column: y, positive: 1}\n")
    shown = CliRunner().invoke(main, ["datasets", "show", str(card)])
    assert shown.exit_code == 0, shown.output
    assert "data not loaded:" in shown.output and "'d.csv' of dataset 'b' is missing" in shown.output
    (tmp_path / "d.csv").write_text("x,y\n1,0\n2,1\n")
    swapped = CliRunner().invoke(main, ["datasets", "show", str(card)])
    assert swapped.exit_code == 2, swapped.output
    assert f"does not match dataset card {card}" in swapped.output
