"""`harness compare RUN_A RUN_B` (issue 15, section 2) on runs recorded by `harness assess` in a temporary SQLite
store: generated cases (tests/conftest.py `write_case`) with the performance and bias suites, about 2 s each.

- A and B: two tools on the same data (the same card and bytes), B with a real disparity against group F;
- C: tool A on a new version of the data (same dataset name, other bytes);
and, logged by hand into a copy of the store, A's record without its bias suite, and a run that is not an
assessment.

The figures are checked against scikit-learn and pandas on the raw files, the differences against the records, and
the interval against a closed form; a run compared with itself and the swap of A and B are the adversarial cases.
"""
from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from scipy import stats
from sklearn.metrics import balanced_accuracy_score

from harness.stats import difference_bounds, mover_difference
from tests.conftest import MANIFEST, write_card, write_case

SUITES = ("performance", "bias")


def harness(*args: str) -> Result:
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"}, prog_name="harness", catch_exceptions=False)


@dataclass
class Runs:
    uri: str
    root: Path
    a: str
    b: str
    c: str
    data: pd.DataFrame
    pred_a: pd.DataFrame
    pred_b: pd.DataFrame

    def record(self, name: str) -> dict[str, Any]:
        return json.loads((self.root / name / "assessment.json").read_text())


def _assess(root: Path, uri: str, tool: Path, card: Path, out: str) -> str:
    args = ["assess", str(tool), "--dataset", str(card), "--tracking-uri", uri, "--out", str(root / out)]
    for s in SUITES:
        args += ["--suite", s]
    r = harness(*args)
    assert r.exit_code in (0, 1, 3), r.stdout + r.stderr
    return str(json.loads((root / out / "assessment.json").read_text())["run_id"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("compare")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    tool_a, card = write_case(root / "a", seed=0)
    # tool B: the same data and card, its own outputs: group F selected 0.25 less often
    data = pd.read_csv(root / "a" / "data.csv")
    rng = np.random.default_rng(7)
    p = np.where(data["sex"] == "F", 0.20, 0.45) + 0.3 * (data["approved"] - 0.4)
    pd.DataFrame({"id": data["id"], "prediction": rng.binomial(1, p), "score": p}).to_csv(
        root / "a" / "predictions_b.csv", index=False)
    tool_b = root / "a" / "tool_b.yaml"
    tool_b.write_text(MANIFEST.format(id="case-tool-b") + "adapter:\n  kind: predictions\n  path: predictions_b.csv\n"
                      "  id_column: id\n  label_column: prediction\n  score_column: score\n")
    # tool A on a new version of the data: other rows under the same dataset name
    tool_c, _ = write_case(root / "c", seed=1)
    card_c = write_card(root / "c", "case-0")
    return Runs(uri=uri, root=root, a=_assess(root, uri, tool_a, card, "A"), b=_assess(root, uri, tool_b, card, "B"),
                c=_assess(root, uri, tool_c, card_c, "C"),
                data=data, pred_a=pd.read_csv(root / "a" / "predictions.csv"), pred_b=pd.read_csv(root / "a" /
                                                                                                  "predictions_b.csv"))


def compared(runs: Runs, a: str, b: str) -> dict[str, Any]:
    r = harness("compare", a, b, "--format", "json", "--tracking-uri", runs.uri)
    assert r.exit_code == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def row(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return next(m for m in doc["metrics"] if m["key"] == key)


def measurement(record: dict[str, Any], key: str) -> dict[str, Any]:
    return next(m for s in record["suites"] for m in s["measurements"] if m["key"] == key)


# -- the interval, against closed forms ---------------------------------------------------------------------------

def test_difference_bounds_by_hand() -> None:
    # a = 0.50 [0.40, 0.60], b = 0.30 [0.25, 0.40]: a - b = 0.20, from 0.40 - 0.40 = 0.00 to 0.60 - 0.25 = 0.35
    value, low, high = difference_bounds(0.50, 0.40, 0.60, 0.30, 0.25, 0.40)
    assert (value, low, high) == pytest.approx((0.20, 0.00, 0.35), abs=1e-12)
    # the README's figure for two independent estimates of equal precision: 2 Phi(1.96 * 2 / sqrt 2) - 1
    assert 2 * stats.norm.cdf(1.959963984540054 * 2 / math.sqrt(2)) - 1 == pytest.approx(0.9944, abs=1e-4)


@pytest.mark.parametrize("rho", [-1.0, -0.5, 0.0, 0.9])
def test_difference_bounds_cover_at_least_95_percent_whatever_the_correlation(rho: float) -> None:
    """Two normal estimates with 95 % intervals (sd 1 and 2), correlated rho. The interval's coverage in closed form
    is 2 Phi(z (sa + sb) / sd(a - b)) - 1: exactly 95 % at rho = -1 (sd(a - b) = sa + sb), more otherwise; a
    seeded simulation of 40,000 pairs agrees with it within 4 standard errors. Newcombe's combination for
    independent estimates (`mover_difference`) covers 2 Phi(z sqrt(sa^2 + sb^2) / sd(a - b)) - 1: 95 % at
    rho = 0 but only 85.6 % at rho = -1 (sd 1 and 2), which is why the comparison does not use it."""
    z, sa, sb, n = 1.959963984540054, 1.0, 2.0, 40_000
    sd = math.sqrt(sa**2 + sb**2 - 2 * rho * sa * sb)
    closed = 2 * stats.norm.cdf(z * (sa + sb) / sd) - 1
    rng = np.random.default_rng(11)
    e = rng.multivariate_normal([0, 0], [[sa**2, rho * sa * sb], [rho * sa * sb, sb**2]], size=n,
                                check_valid="ignore")
    a, b = e[:, 0], e[:, 1]  # estimates of true values 0 and 0
    _, low, high = difference_bounds(a, a - z * sa, a + z * sa, b, b - z * sb, b + z * sb)
    covered = float(np.mean((low <= 0) & (high >= 0)))
    assert covered == pytest.approx(closed, abs=4 * math.sqrt(closed * (1 - closed) / n) + 1e-9)
    assert closed >= 0.95 - 1e-12
    if rho == -1.0:
        assert closed == pytest.approx(0.95, abs=1e-9)
        m_low, m_high = mover_difference(a, a - z * sa, a + z * sa, b, b - z * sb, b + z * sb)
        independent = 2 * stats.norm.cdf(z * math.sqrt(sa**2 + sb**2) / sd) - 1
        assert independent == pytest.approx(0.8559, abs=1e-4)
        assert float(np.mean((m_low <= 0) & (m_high >= 0))) == pytest.approx(independent, abs=0.01)


def test_every_headline_is_a_figure_the_suite_declares() -> None:
    from harness.check import declared
    from harness.plugins import load_suites

    for name, cls in load_suites().items():
        if not cls.__module__.startswith("test_suites."):  # the built-in suites; a plugin may name none
            continue
        assert cls.headline, f"suite {name} names no headline figures"
        for entry in cls.headline:
            assert declared(cls.produces, entry), f"{name}.headline names {entry!r}, which it does not produce"


# -- two tools on the same data -----------------------------------------------------------------------------------

@pytest.mark.slow  # the module's three assessments (about 10 s on an idle machine)
def test_two_tools_on_the_same_data(runs: Runs) -> None:
    doc = compared(runs, runs.a, runs.b)
    rec_a, rec_b = runs.record("A"), runs.record("B")
    assert doc["schema"] == "harness.comparison/1"
    assert (doc["a"]["run_id"], doc["a"]["tool_id"], doc["a"]["verdict"]) == (runs.a, "case-tool-0", rec_a["verdict"])
    assert (doc["b"]["run_id"], doc["b"]["tool_id"], doc["b"]["verdict"]) == (runs.b, "case-tool-b", "FAIL")
    assert doc["datasets"] == [{"name": "case-0", "a_name": "case-0", "b_name": "case-0", "same": True,
                                "a_sha256": rec_a["datasets"][0]["sha256"], "b_sha256": rec_a["datasets"][0]["sha256"]}]
    assert doc["difference_method"]["name"] == "interval-bounds" and doc["difference_method"]["paired"] is False

    # the figures are the tools' own, as scikit-learn and pandas compute them from the files
    y = runs.data["approved"].to_numpy()
    ba = row(doc, "performance.baselines.balanced_accuracy")
    assert ba["a"]["value"] == pytest.approx(balanced_accuracy_score(y, runs.pred_a["prediction"]), abs=1e-12)
    assert ba["b"]["value"] == pytest.approx(balanced_accuracy_score(y, runs.pred_b["prediction"]), abs=1e-12)
    gap = row(doc, "bias.demographic_parity.difference.sex")
    for side, pred in (("a", runs.pred_a), ("b", runs.pred_b)):
        rates = pred["prediction"].groupby(runs.data["sex"]).mean()
        assert gap[side]["value"] == pytest.approx(abs(rates["M"] - rates["F"]), abs=1e-12)
    # B - A, with lower(B) - upper(A) .. upper(B) - lower(A) from the two records' own intervals
    for key in ("performance.baselines.balanced_accuracy", "bias.demographic_parity.difference.sex",
                "bias.four_fifths.adverse_impact_ratio.sex.F"):
        r, ma, mb = row(doc, key), measurement(rec_a, key), measurement(rec_b, key)
        assert r["difference"] == {"value": mb["value"] - ma["value"], "low": mb["ci_low"] - ma["ci_high"],
                                   "high": mb["ci_high"] - ma["ci_low"]}
        assert r["note"] == ""
    assert row(doc, "bias.demographic_parity.difference.sex")["difference"]["low"] > 0  # B's gap is real
    # the findings that changed: B fails the four-fifths rule for F, A does not
    changed = {(f["key"], f["change"]) for f in doc["changed_findings"]}
    air = "bias.four_fifths.adverse_impact_ratio.sex.F"
    assert finding(rec_a, air) != "FAIL" and (air, f"{finding(rec_a, air)} -> FAIL") in changed
    n_a, n_b = (sum(len(s["findings"]) for s in r["suites"]) for r in (rec_a, rec_b))
    only = sum(f["change"].startswith("only") for f in doc["changed_findings"])
    assert 2 * (len(doc["changed_findings"]) - only) + only + 2 * doc["unchanged_findings"] == n_a + n_b


def finding(record: dict[str, Any], key: str) -> str:
    return str(next(f["status"] for s in record["suites"] for f in s["findings"] if f["key"] == key))


@pytest.mark.slow
def test_a_run_compared_with_itself_shows_no_difference(runs: Runs) -> None:
    doc = compared(runs, runs.b, runs.b)
    rec = runs.record("B")
    assert doc["changed_findings"] == []
    assert doc["unchanged_findings"] == sum(len(s["findings"]) for s in rec["suites"])
    with_values = [m for m in doc["metrics"] if m["a"]["value"] is not None]
    assert len(with_values) >= 10
    for m in with_values:
        assert m["difference"]["value"] == 0.0
        if m["difference"]["low"] is not None:  # the conservative interval is symmetric around the zero
            assert m["difference"]["low"] == -m["difference"]["high"]


@pytest.mark.slow
def test_swapping_the_runs_flips_every_sign(runs: Runs) -> None:
    ab, ba = compared(runs, runs.a, runs.b), compared(runs, runs.b, runs.a)
    assert [m["key"] for m in ab["metrics"]] == [m["key"] for m in ba["metrics"]]
    for x, y in zip(ab["metrics"], ba["metrics"], strict=True):
        assert (x["a"], x["b"]) == (y["b"], y["a"])
        if x["difference"] is None:
            assert y["difference"] is None
            continue
        assert y["difference"]["value"] == -x["difference"]["value"]
        if x["difference"]["low"] is not None:
            assert (y["difference"]["low"], y["difference"]["high"]) == (-x["difference"]["high"],
                                                                        -x["difference"]["low"])
    flip = {"only in A": "only in B", "only in B": "only in A"}
    assert sorted((f["key"], f["change"]) for f in ba["changed_findings"]) == sorted(
        (f["key"], flip.get(f["change"], " -> ".join(reversed(f["change"].split(" -> ")))))
        for f in ab["changed_findings"])
    assert ab["unchanged_findings"] == ba["unchanged_findings"]


@pytest.mark.slow
def test_different_data_is_shown_without_differences(runs: Runs) -> None:
    doc = compared(runs, runs.a, runs.c)
    assert doc["datasets"][0]["same"] is False
    ba = row(doc, "performance.baselines.balanced_accuracy")
    assert ba["a"]["value"] is not None and ba["b"]["value"] is not None
    assert all(m["difference"] is None for m in doc["metrics"])
    assert {m["note"] for m in doc["metrics"]} <= {"not comparable: the runs assessed different data",
                                                   "measured only in run A", "measured only in run B"}
    r = harness("compare", runs.a, runs.c, "--tracking-uri", runs.uri)
    assert r.exit_code == 0, r.stderr
    assert "different data (sha256" in r.stdout and "not comparable" in r.stdout
    assert not re.search(r"\[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", r.stdout)  # no signed interval: no difference drawn


# -- the three forms ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_table_keeps_every_cell_whole_when_piped(runs: Runs) -> None:
    r = harness("compare", runs.a, runs.b, "--tracking-uri", runs.uri)
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    doc = compared(runs, runs.a, runs.b)
    ba = row(doc, "performance.baselines.balanced_accuracy")
    diff = ba["difference"]
    assert re.search(r"baselines\.balanced_accuracy\s+│\s+" + re.escape(f"{ba['a']['value']:.3f}") + r"\s+│\s+"
                     + re.escape(f"{ba['b']['value']:.3f}") + r"\s+│\s+" + re.escape(f"{diff['value']:+.3f}"), out)
    assert f"[{diff['low']:+.3f}, {diff['high']:+.3f}]" in out
    assert "four_fifths.adverse_impact_ratio" in out and "bias.four_fifths.adverse_impact_ratio.sex.F" in out
    assert "conservative" in out and "a paired bootstrap on the same rows is not possible" in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 200  # drawn as wide as it needs, not cut at 80
    assert f"{len(doc['changed_findings'])} finding(s) changed status; {doc['unchanged_findings']} kept it." in out


@pytest.mark.slow
def test_html_page(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    r = harness("compare", runs.a, runs.b, "--format", "html", "--out", str(out), "--tracking-uri", runs.uri)
    assert r.exit_code == 0, r.stderr
    html = out.read_text()
    doc = compared(runs, runs.a, runs.b)
    diff = row(doc, "performance.baselines.balanced_accuracy")["difference"]
    assert "<script" not in html and "http" not in html.split("<body>", 1)[1]
    assert '<div class="run verdict-fail">' in html and "case-tool-b" in html
    assert f'{diff["value"]:+.3f}<span class="ci">[{diff["low"]:+.3f}, {diff["high"]:+.3f}]</span>' in html
    assert '<span class="badge s-fail">FAIL</span>' in html
    assert "paired bootstrap on the same rows is not possible" in html


@pytest.mark.slow
def test_json_to_a_file_is_what_stdout_gives(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    r = harness("compare", runs.a, runs.b, "--format", "json", "--out", str(out), "--tracking-uri", runs.uri)
    assert r.exit_code == 0 and r.stdout == f"wrote {out}\n"
    assert json.loads(out.read_text()) == compared(runs, runs.a, runs.b)


# -- what cannot be compared: one line, exit 2 --------------------------------------------------------------------

@pytest.mark.slow
def test_an_unknown_run(runs: Runs) -> None:
    r = harness("compare", runs.a, "0123456789abcdef0123456789abcdef", "--tracking-uri", runs.uri)
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (f"error: run B: no MLflow run '0123456789abcdef0123456789abcdef' in {runs.uri} (`harness "
                        "status TOOL` and the MLflow UI list a tool's runs)\n")


@pytest.fixture
def store_copy(runs: Runs, tmp_path: Path) -> str:
    db = tmp_path / "mlflow.db"
    shutil.copyfile(runs.root / "mlflow.db", db)
    return f"sqlite:///{db}"


@pytest.mark.slow
def test_a_run_that_is_not_an_assessment(store_copy: str) -> None:
    from harness.tracking import Store

    with Store.open(store_copy).finished_run("case-tool-0", "a plan", {"harness.kind": "plan"}) as run:
        plan = run.run_id
    r = harness("compare", plan, "0" * 32, "--tracking-uri", store_copy)
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (f"error: run A: {plan} is not an assessment run (harness.kind 'plan', no assessment.json): "
                        "compare two runs recorded by `harness assess` or `harness reassess`\n")


@pytest.mark.slow
def test_runs_of_different_suites(runs: Runs, store_copy: str) -> None:
    """A's own record without its bias suite, logged as a run of its own: the comparison is refused, not drawn
    half empty."""
    from harness.tracking import Store

    record = runs.record("A")
    record["suites"] = [s for s in record["suites"] if s["suite"] != "bias"]
    with Store.open(store_copy).finished_run("case-tool-0", "performance only",
                                             {"harness.kind": "pre-acquisition"}) as run:
        run.log_bytes("assessment.json", json.dumps(record).encode())
        d = run.run_id
    r = harness("compare", runs.a, d, "--tracking-uri", store_copy)
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (f"error: the runs assessed different suites (run A {runs.a}: performance, bias; run B "
                        f"{d}: performance): compare runs of the same suites, or re-assess one with --suite for "
                        "each of the other's\n")


def _doc(run: str, datasets: dict[str, str], measurements: dict[str, list[tuple[str, float, float | None]]],
         statuses: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    """A minimal assessment.json: per dataset, measurements (key under "s.c.", value, half-width or None) and
    findings (key, status) of one suite "s"."""
    return {"schema": "harness.assessment/9", "run_id": run, "verdict": "PASS", "tool": {"id": run, "version": "1"},
            "policy": {"label": "p", "document": {"confidence_level": 0.95}},
            "datasets": [{"name": n, "sha256": h} for n, h in datasets.items()],
            "suites": [{"suite": "s", "dataset": n,
                        "measurements": [{"suite": "s", "check": "c", "metric": k, "group": None, "value": v,
                                          "ci_low": None if w is None else v - w,
                                          "ci_high": None if w is None else v + w}
                                         for k, v, w in measurements.get(n, [])],
                        "findings": [{"key": f"s.c.{k}", "status": st, "value": 1.0} for k, st in statuses.get(n, [])]}
                       for n in datasets]}


def test_pairing_notes_and_repeated_findings_by_hand() -> None:
    """Two datasets pair by name (x the same bytes, y not); a figure without an interval gets a difference without
    one; a figure in one run only gets none; a finding key that repeats is matched occurrence by occurrence."""
    from harness.comparison import Difference, compare

    a = _doc("A", {"x": "h1", "y": "h2"}, {"x": [("m", 0.5, 0.1), ("n", 3.0, None), ("o", 0.2, 0.1)],
                                            "y": [("m", 0.4, 0.1)]},
             {"x": [("m", "PASS"), ("k", "SKIPPED"), ("k", "SKIPPED")]})
    b = _doc("B", {"x": "h1", "y": "h3"}, {"x": [("m", 0.75, 0.05), ("n", 5.0, None)], "y": [("m", 0.1, 0.1)]},
             {"x": [("m", "FAIL"), ("k", "SKIPPED"), ("k", "PASS")]})
    c = compare(a, b, {"s": ("c",)})
    got = {(r.dataset, r.key): (r.difference, r.note) for r in c.metrics}
    d = got[("x", "s.c.m")][0]
    assert d is not None and (d.value, d.low, d.high) == pytest.approx((0.25, 0.10, 0.40), abs=1e-12)  # (0.75 - 0.5,
    # 0.70 - 0.60, 0.80 - 0.40)
    assert got[("x", "s.c.n")] == (Difference(2.0), "no interval: run A's figure has none")
    assert got[("x", "s.c.o")] == (None, "measured only in run A")
    assert got[("y", "s.c.m")] == (None, "not comparable: the runs assessed different data")
    assert [(f.key, f.change) for f in c.changed] == [("s.c.m", "PASS -> FAIL"), ("s.c.k", "SKIPPED -> PASS")]
    assert c.unchanged == 1
    # one dataset each: paired whatever the names
    one = compare(_doc("A", {"x": "h1"}, {"x": [("m", 0.5, 0.1)]}, {}),
                  _doc("B", {"z": "h1"}, {"z": [("m", 0.5, 0.1)]}, {}), {"s": ("c",)})
    assert [(d.name, d.same) for d in one.datasets] == [("x / z", True)]
    assert one.metrics[0].difference is not None and one.metrics[0].difference.value == 0.0
