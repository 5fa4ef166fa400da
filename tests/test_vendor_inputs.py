"""`harness datasets export-inputs` (issue 15, section 5): what a vendor gets to score is the ids and the columns a tool
may read, never the answers. Asserted on the bytes written, and against a card that tries to slip the answers in
under another name."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.datasets import load_dataset
from harness.workflows.vendor_inputs import gives_away, tool_inputs
from tests.conftest import ROOT, write_card, write_case

RENTAL_FEATURES = ["household_size", "has_children", "monthly_income", "income_pct_ami", "rent", "rent_burden",
                   "months_in_arrears", "eviction_notice", "neighbourhood"]


def _export(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["datasets", "export-inputs", *args])
    return r.exit_code, " ".join(r.output.split())


def test_rental_inputs_are_the_ids_and_the_features_and_nothing_of_the_answers(tmp_path: Path) -> None:
    out = tmp_path / "inputs.csv"
    code, text = _export("rental-assistance", "--out", str(out))
    assert code == 0, text
    data = out.read_bytes()
    header = data.split(b"\n", 1)[0].decode()
    assert header.split(",") == ["application_id", *RENTAL_FEATURES]
    # the target, the historical decision and the protected attributes: not a column, and not a value either
    for word in (b"eligible", b"prior_decision", b"sex", b"race", b"Female", b"Male", b"Hispanic", b"White",
                 b"Native American"):
        assert word not in data, word
    exported = pd.read_csv(out)
    source = load_dataset("rental-assistance").frame
    assert len(exported) == 14_000
    pd.testing.assert_frame_equal(exported, source[["application_id", *RENTAL_FEATURES]])
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in text
    assert "left out eligible: the target" in text
    assert "left out sex: a protected attribute the card does not give tools" in text
    assert "left out prior_decision: not a feature the card gives tools" in text
    assert "one label of 'eligible': one of [0, 1]" in text


def test_a_protected_attribute_is_exported_only_when_the_card_gives_it_to_tools(tmp_path: Path) -> None:
    _, card = write_case(tmp_path / "given", n=200, seed=1)  # features [sex, race, income]: the card gives them
    code, text = _export(str(card), "--out", str(tmp_path / "given.csv"))
    assert code == 0, text
    assert pd.read_csv(tmp_path / "given.csv").columns.tolist() == ["id", "sex", "race", "income"]
    assert "the card gives tools the protected attribute(s) sex, race" in text
    write_card(tmp_path / "given", "not-given", features="[income]")
    code, text = _export(str(tmp_path / "given" / "card.yaml"), "--out", str(tmp_path / "income.csv"))
    assert code == 0, text
    data = (tmp_path / "income.csv").read_bytes()
    assert data.split(b"\n", 1)[0] == b"id,income"
    assert b"approved" not in data and b",F" not in data and b",M" not in data


@pytest.mark.parametrize(("copy", "why"), [
    (lambda f: f["approved"], "the target"),                                          # a renamed copy
    (lambda f: np.where(f["approved"] == 1, "yes", "no"), "the target"),              # recoded
    (lambda f: np.where(f["approved"] == 1, np.where(f["income"] > 50, "A", "B"), "denied"), "the target"),  # split
    (lambda f: f["sex"].map({"F": "woman", "M": "man"}), "the protected attribute 'sex', which the card does not "
                                                          "give tools"),
])
def test_a_card_slipping_the_answers_in_under_another_name_is_refused(tmp_path: Path, copy, why) -> None:
    folder = tmp_path / "case"
    write_case(folder, n=300, seed=2)
    frame = pd.read_csv(folder / "data.csv")
    frame["status"] = copy(frame)
    frame.to_csv(folder / "data.csv", index=False)
    card = write_card(folder, "leaky", features="[income, status]")
    out = tmp_path / "inputs.csv"
    code, text = _export(str(card), "--out", str(out))
    assert code == 2
    n = frame["status"].nunique(dropna=False)
    truth = "approved" if why == "the target" else "sex"
    assert text == (f"error: feature 'status' of dataset 'leaky' gives away {why}: each of its {n} values goes with "
                    f"one value of '{truth}' only, so it is a copy or a recoding of it; remove it from the card's "
                    f"features ({card})")
    assert not out.exists()


def test_the_target_listed_as_a_feature_is_refused(tmp_path: Path) -> None:
    _, card = write_case(tmp_path, n=100, seed=3)
    write_card(tmp_path, "target-feature", features="[income, approved]")
    code, text = _export(str(card), "--out", str(tmp_path / "x.csv"))
    assert code == 2
    assert text == (f"error: dataset card {card} lists 'approved', the target, among its features: a tool is never "
                    "given the answers; remove it from features")


def test_gives_away_finds_recodings_and_not_features() -> None:
    rng = np.random.default_rng(0)
    y = pd.Series(rng.integers(0, 2, 1000))
    assert gives_away(y.map({0: "no", 1: "yes"}), y)
    assert gives_away(y * 10 + 3, y)
    assert not gives_away(pd.Series(rng.integers(0, 2, 1000)), y)        # an independent flag
    assert not gives_away(pd.Series(rng.normal(size=1000)), y)           # an amount: separates any rows, says nothing
    noisy = y.copy()
    noisy.iloc[0] = 1 - noisy.iloc[0]
    assert not gives_away(noisy, y)                                      # a strong feature, wrong once: not a copy
    assert not gives_away(y.iloc[:15], y.iloc[:15])                      # too few rows to tell
    assert not gives_away(y, pd.Series(np.zeros(1000)))                  # a constant target has nothing to give away


def test_every_real_feature_of_the_catalogue_passes(mirror: Path) -> None:
    """The null: no feature of a real reference dataset is taken for a recoding of its target or of a protected
    attribute the card withholds."""
    for name in ("adult", "german-credit", "law-school", "dutch-census", "credit-card-default", "bank-marketing",
                 "rental-assistance"):
        inputs = tool_inputs(load_dataset(name, mirror))
        ds = load_dataset(name, mirror)
        assert inputs.columns[1:] == ds.card.features, name


def test_adult_inputs_hold_no_income_label(adult, tmp_path: Path) -> None:
    out = tmp_path / "adult.csv"
    code, text = _export("adult", "--out", str(out), "--data-dir", str(adult.data_path.parent))
    assert code == 0, text
    data = out.read_bytes()
    assert b">50K" not in data and b"<=50K" not in data and b"income" not in data
    assert data.split(b"\n", 1)[0].split(b",")[0] == b"row"  # no id column in the card: keyed by row number
    assert len(pd.read_csv(out)) == len(adult.frame) == 32_561
    assert "the card gives tools the protected attribute(s) sex, race" in text


def test_question_answering_inputs_are_the_questions_and_pages_without_answers(tmp_path: Path) -> None:
    out = tmp_path / "items.jsonl"
    code, text = _export("city-services-qa", "--out", str(out))
    assert code == 0, text
    data = out.read_bytes()
    records = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    ds = load_dataset("city-services-qa")
    assert len(records) == len(ds.frame) == 276
    assert all(sorted(r) == ["context", "id", "question"] for r in records)
    assert [r["question"] for r in records] == ds.frame["question"].tolist()
    assert b'"answers"' not in data and b'"answerable"' not in data and b"paraphrases" not in data
    assert "left out answers: the answers" in text and "left out answerable: the answers" in text
    assert 'one JSON object per line, {"id": ..., "answer": "..."}' in text


def test_attack_inputs_hold_no_marker(tmp_path: Path) -> None:
    out = tmp_path / "attacks.jsonl"
    code, text = _export("security-attacks", "--out", str(out))
    assert code == 0, text
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 210 and all(sorted(r) == ["context", "id", "question"] for r in records)
    assert "left out marker: how the harness tells what an attack did (the security suite)" in text


def test_bad_outputs_are_one_clear_error(tmp_path: Path) -> None:
    code, text = _export("rental-assistance", "--out", str(tmp_path / "inputs.xlsx"))
    assert (code, text) == (2, f"error: --out {tmp_path / 'inputs.xlsx'}: write the inputs to a .csv or a .jsonl file "
                               "(one JSON object per line)")
    ds = load_dataset("rental-assistance")
    before = hashlib.sha256(ds.data_path.read_bytes()).hexdigest()
    code, text = _export("rental-assistance", "--out", str(ds.data_path))
    assert (code, text) == (2, f"error: --out {ds.data_path} is the dataset's own data file; write the export "
                               "somewhere else")
    assert hashlib.sha256(ds.data_path.read_bytes()).hexdigest() == before == ds.card.sha256
    code, text = _export("no-such-data", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and text.startswith("error: no dataset named 'no-such-data'")


def _readme_labels() -> dict[str, tuple[str, list[str], str]]:
    """README's "labels a tool must output" table: dataset -> (target column, values, favourable), as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| dataset | target column | a tool outputs one of | favourable |", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, tuple[str, list[str], str]] = {}
    for line in table.strip().splitlines()[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        for name in cells[0].split(", "):
            rows[name.strip("`")] = (cells[1].strip("`"), [v.strip("`") for v in cells[2].split(", ")],
                                     cells[3].strip("`"))
    return rows


def test_the_readme_lists_the_labels_every_card_expects(mirror: Path) -> None:
    """The README's table is the reader's copy of what `check_labels` holds a tool to: for every card of the
    catalogue, its target column, the target's values (`label_space`, from the card and the data) and the favourable
    value; the question-answering cards ask for text."""
    import yaml

    from harness.datasets import list_cards, load_card
    from harness.tools.labels import canonical, label_space

    rows = _readme_labels()
    cards = {c.parent.name: load_card(c) for c in list_cards() if c.parent.parent == ROOT / "datasets"}
    assert sorted(rows) == sorted(cards)
    for name, card in cards.items():
        column, values, favourable = rows[name]
        if card.target is None:
            assert (column, values) == ("none", ["a text answer per item id"]), name
            continue
        space = label_space(load_dataset(name, mirror))
        assert column == card.target.column, name
        assert [canonical(yaml.safe_load(v)) for v in values] == [canonical(v) for v in space], name
        assert canonical(yaml.safe_load(favourable)) == canonical(card.target.favorable_value), name
