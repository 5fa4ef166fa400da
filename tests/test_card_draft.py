"""`harness datasets draft CSV --out card.yaml` (issue 15, section 5): a card measured from the file, with the
analyst's fields left as TODO placeholders that every command refuses until they are filled in."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.datasets import DatasetCard, list_cards, load_card, load_dataset
from harness.errors import DatasetError
from tests.conftest import ROOT, write_case

TODO_FIELDS = ["version", "task", "source", "license", "description", "target.column", "target.positive",
               "protected_attributes.TODO"]


def _data(folder: Path) -> Path:
    """A file with every kind of column the draft measures: an id, integers with a gap (read as float), a flag,
    a float, a category, free text and an outcome."""
    rng = np.random.default_rng(5)
    n = 400
    folder.mkdir(parents=True, exist_ok=True)
    visits = rng.integers(0, 12, n).astype(float)
    visits[[3, 77]] = np.nan
    frame = pd.DataFrame({
        "case_id": [f"c{i:04d}" for i in range(n)],
        "visits": visits,
        "urgent": rng.integers(0, 2, n),
        "wait_days": rng.gamma(2.0, 3.0, n).round(2),
        "district": rng.choice(["North", "South", "East", "West"], n),
        "note": [f"called back on day {i}" for i in range(n)],
        "resolved": rng.choice(["yes", "no"], n),
    })
    path = folder / "cases.csv"
    frame.to_csv(path, index=False)
    return path


def _draft(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["datasets", "draft", *args])
    return r.exit_code, " ".join(r.output.split())


def _fill(text: str) -> str:
    """What an analyst writes in place of the placeholders."""
    lines = []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        line = {"version": 'version: "2026-01"', "task": "task: binary-classification",
                "source": "source: https://example.gov/cases", "license": "license: City of Example open data",
                "target": 'target: {column: resolved, positive: "yes"}', "features": "features: [visits, urgent, "
                "wait_days, district]"}.get(key, line)
        line = line.replace("  TODO: what one row is", "  One row per case; what one row is")
        lines.append(line.replace("  TODO: {reference: TODO}", "  district: {reference: North}"))
    return "\n".join(lines) + "\n"


def test_the_draft_measures_the_file(tmp_path: Path) -> None:
    csv = _data(tmp_path / "data")
    out = tmp_path / "data" / "card.yaml"
    code, text = _draft(str(csv), "--out", str(out))
    assert code == 0, text
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()
    assert f"wrote {out}: 400 rows, 7 columns, sha256 {digest}" in text
    assert f"fill in its 8 TODO fields ({', '.join(TODO_FIELDS)})" in text
    card = yaml.safe_load(out.read_text())
    frame = pd.read_csv(csv)
    assert (card["name"], card["file"], card["sha256"], card["id_column"]) == ("cases", "cases.csv", digest, "case_id")
    assert card["known_results"] == ["400 rows"]
    assert card["features"] == ["visits", "urgent", "wait_days", "district", "note", "resolved"]
    assert card["columns"] == {
        "case_id": {"type": "string", "nullable": False},
        "visits": {"type": "integer", "min": 0, "max": int(frame["visits"].max()), "nullable": True},
        "urgent": {"type": "integer", "min": 0, "max": 1, "values": [0, 1], "nullable": False},
        "wait_days": {"type": "float", "min": float(frame["wait_days"].min()), "max": float(frame["wait_days"].max()),
                      "nullable": False},
        "district": {"type": "category", "values": ["East", "North", "South", "West"], "nullable": False},
        "note": {"type": "string", "nullable": False},
        "resolved": {"type": "category", "values": ["no", "yes"], "nullable": False},
    }
    assert frame["visits"].isna().sum() == 2  # the gap the spec's nullable: true records


def test_a_draft_is_refused_until_every_placeholder_is_filled(tmp_path: Path) -> None:
    csv = _data(tmp_path / "data")
    out = tmp_path / "data" / "card.yaml"
    assert _draft(str(csv), "--out", str(out))[0] == 0
    text = out.read_text()
    lines = {k: n for n, line in enumerate(text.splitlines(), 1) for k in ("version", "task", "source", "license",
             "description", "target", "protected_attributes") if line.startswith(k + ":")}
    where = (f"version (line {lines['version']}), task (line {lines['task']}), source (line {lines['source']}), "
             f"license (line {lines['license']}), description (line {lines['description']}), target.column "
             f"(line {lines['target']}), target.positive (line {lines['target']}), protected_attributes.TODO (line "
             f"{lines['protected_attributes'] + 1})")
    message = f"dataset card {out} is a draft: fill in {where}, still TODO, before it is used"
    with pytest.raises(DatasetError) as e:
        load_dataset(str(out))
    assert str(e.value) == message and e.value.rule == "card-draft"
    # nor can it be used by accident from the command line: an assessment, a dry run, an export
    tool, _ = write_case(tmp_path / "tool", n=50, seed=1)
    runner = CliRunner()
    for argv in (["assess", str(tool), "--dataset", str(out), "--policy", str(ROOT / "harness/policies/default.yaml"),
                  "--tracking-uri", f"sqlite:///{tmp_path / 'store.db'}"],
                 ["check", str(tool), "--dataset", str(out)],
                 ["datasets", "export-inputs", str(out), "--out", str(tmp_path / "x.csv")]):
        r = runner.invoke(main, argv)
        assert (r.exit_code, " ".join(r.output.split())) == (2, f"error: {message}"), argv
    assert not (tmp_path / "store.db").exists() and not (tmp_path / "x.csv").exists()
    # filled in, all but the licence: only the licence is named
    filled = _fill(text)
    out.write_text(filled.replace("license: City of Example open data", text.splitlines()[lines["license"] - 1]))
    with pytest.raises(DatasetError, match=r"is a draft: fill in license \(line \d+\), still TODO"):
        load_card(out)
    out.write_text(filled)
    ds = load_dataset(str(out))
    assert (len(ds.frame), ds.card.target.positive if ds.card.target else None) == (400, "yes")
    assert ds.card.columns["district"].values == ["East", "North", "South", "West"]


def test_the_filled_in_draft_passes_its_own_column_checks(tmp_path: Path) -> None:
    """Every spec the draft wrote holds on the file it was drafted from (else every assessment on it would report a
    data-quality failure of the City's own making)."""
    csv = _data(tmp_path / "data")
    out = tmp_path / "data" / "card.yaml"
    assert _draft(str(csv), "--out", str(out))[0] == 0
    out.write_text(_fill(out.read_text()))
    ds = load_dataset(str(out))
    for name, spec in ds.card.columns.items():
        s = ds.frame[name]
        if not spec.nullable:
            assert s.notna().all(), name
        if spec.min is not None:
            assert s.min() >= spec.min and s.max() <= spec.max, name
            assert s.min() == spec.min and s.max() == spec.max, name  # measured, not rounded
        if spec.values is not None:
            assert set(s.dropna().astype(str)) <= {str(v) for v in spec.values}, name


def test_the_catalogues_own_cards_are_not_drafts() -> None:
    """The null: no card the harness ships is taken for a draft."""
    cards = list_cards()
    assert len(cards) >= 10
    assert all(isinstance(load_card(c), DatasetCard) for c in cards)


def test_datasets_list_shows_a_draft_beside_the_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue = tmp_path / "catalogue"
    csv = _data(catalogue / "cases")
    assert _draft(str(csv), "--out", str(catalogue / "cases" / "card.yaml"))[0] == 0
    monkeypatch.setenv("HARNESS_CATALOG", str(catalogue))
    monkeypatch.setenv("COLUMNS", "400")
    r = CliRunner().invoke(main, ["datasets", "list"])
    assert r.exit_code == 0, r.output
    assert "not usable" in r.output and "rental-assistance" in r.output


def test_bad_draft_inputs_are_one_clear_error(tmp_path: Path) -> None:
    csv = _data(tmp_path / "data")
    out = tmp_path / "card.yaml"
    out.write_text("kept")
    assert _draft(str(csv), "--out", str(out)) == (2, f"error: --out {out} exists; pass --force to overwrite it")
    assert out.read_text() == "kept"
    code, _ = _draft(str(csv), "--out", str(out), "--force")
    assert code == 0 and yaml.safe_load(out.read_text())["file"] == "data/cases.csv"  # below the card: the path
    (tmp_path / "cards").mkdir()
    assert _draft(str(csv), "--out", str(tmp_path / "cards" / "card.yaml"))[0] == 0
    assert yaml.safe_load((tmp_path / "cards" / "card.yaml").read_text())["file"] == "cases.csv"  # elsewhere: its name
    assert _draft(str(tmp_path / "none.csv"), "--out", str(tmp_path / "c.yaml")) == (
        2, f"error: the data file {tmp_path / 'none.csv'} does not exist")
    (tmp_path / "empty.csv").write_text("a,b\n")
    assert _draft(str(tmp_path / "empty.csv"), "--out", str(tmp_path / "c.yaml")) == (
        2, f"error: {tmp_path / 'empty.csv'} has no rows; a card describes data")
