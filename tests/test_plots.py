"""The report's plots as SVG (harness.report.plots): what a reader sees in each figure is the data's, in the
right place. Geometry is read back from the SVG text itself: bar widths, point positions, labels."""
from __future__ import annotations

import re
import time

import pytest

from harness.report import plots
from harness.report.drawing import nice_ticks, tick_decimals


def _group(name: str, rate: float, low: float, high: float, **extra: object) -> dict[str, object]:
    return {"group": name, "selection_rate": rate, "selection_rate_low": low, "selection_rate_high": high,
            "tpr": 0.8, "tpr_low": 0.7, "tpr_high": 0.9, "fpr": 0.1, "fpr_low": 0.05, "fpr_high": 0.2, **extra}


ROWS = [_group("A", 0.60, 0.55, 0.65, reference=True), _group("B", 0.30, 0.25, 0.35), _group("C", 0.54, 0.49, 0.59),
        _group("D", 0.50, 0.20, 0.80, insufficient=True)]


def bars(svg: str) -> dict[str, tuple[float, float, str]]:
    """x, width and fill of each labelled bar."""
    return {m["label"]: (float(m["x"]), float(m["w"]), m["fill"]) for m in re.finditer(
        r'<rect x="(?P<x>[\d.]+)" y="[\d.]+" width="(?P<w>[\d.]+)" height="[\d.]+" fill="(?P<fill>#\w+)"'
        r'(?: fill-opacity="[\d.]+")? data-value="(?P<label>[^"]*)"/>', svg)}


def texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_selection_rate_bars_one_per_group_with_proportional_widths_and_colours() -> None:
    svg = plots.selection_rate_svg(ROWS, title="Selection rate by race", ratio_limit=0.8, salt="s")
    drawn = bars(svg)
    assert list(drawn) == ["A (reference)", "B", "C", "D (too few rows)"]
    assert len({x for x, _, _ in drawn.values()}) == 1  # every bar starts at 0
    widths = {k: w for k, (_, w, _) in drawn.items()}
    assert widths["B"] / widths["A (reference)"] == pytest.approx(0.5, abs=2e-3)
    assert widths["C"] / widths["A (reference)"] == pytest.approx(0.9, abs=2e-3)
    # reference dark blue, B below the line (0.8 x 60% = 48%) red, C above it light blue, D grey (too few)
    assert [f for _, _, f in drawn.values()] == [plots.REFERENCE, plots.BELOW_LINE, plots.GROUP, plots.TOO_FEW]
    labels = texts(svg)
    assert [t for t in labels if re.fullmatch(r"\d+\.\d%", t)] == ["60.0%", "30.0%", "54.0%", "50.0%"]
    assert " four-fifths line: 0.80 × highest rate = 48.0%" in labels  # under half the axis: right of the line
    assert {"reference group", "other group", "below the four-fifths line", "too few rows to judge"} <= set(labels)
    assert svg.startswith('<svg role="img" aria-label="Selection rate by group: Selection rate by race" ')


def test_four_fifths_line_sits_at_its_rate_on_the_axis() -> None:
    svg = plots.selection_rate_svg(ROWS, title="t", ratio_limit=0.8, salt="s")
    (x0, width_a, _) = bars(svg)["A (reference)"]
    dashed = re.findall(r'<line x1="([\d.]+)" y1="[\d.]+" x2="\1" y2="[\d.]+" stroke="#b42318" stroke-width="1.3" '
                        r'stroke-dasharray', svg)
    assert len(dashed) == 1
    assert (float(dashed[0]) - x0) / width_a == pytest.approx(0.48 / 0.60, abs=2e-3)


def test_error_rates_two_bars_per_group_and_none_without_rates() -> None:
    svg = plots.error_rates_svg(ROWS, title="Error rates by race", salt="s")
    assert svg is not None
    drawn = bars(svg)
    assert len(drawn) == 8 and drawn["B tpr"][1] / drawn["B fpr"][1] == pytest.approx(8.0, abs=0.05)
    assert 'fill-opacity="0.35" data-value="D (too few rows) tpr"' in svg  # too few rows: faded
    assert plots.error_rates_svg([{"group": "A"}], title="t", salt="s") is None


def test_forest_points_at_their_values_filled_by_significance_and_coloured_by_status() -> None:
    rows = [{"label": "Black", "value": 0.64, "ci_low": 0.59, "ci_high": 0.69, "status": "FAIL",
             "threshold": 0.8, "greater_is_better": True, "p_adjusted": 5.3e-26, "significant": True},
            {"label": "Asian", "value": 0.95, "ci_low": 0.85, "ci_high": 1.05, "status": "PASS",
             "threshold": 0.8, "greater_is_better": True, "p_adjusted": 0.4, "significant": False}]
    svg = plots.four_fifths_svg(rows, title="AIR within race", threshold=0.8, salt="s")
    assert svg is not None
    points = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" style="fill: (#\w+); stroke: (#\w+)', svg)
    assert len(points) == 2 + 2 + 2  # the rows', then the legends' (FAIL, PASS; significant, not)
    row_points = points[:2]
    assert [(fill, stroke) for _, _, fill, stroke in row_points] == [("#b42318", "#b42318"), ("#ffffff", "#1a7f37")]
    (xb, yb), (xa, ya) = [(float(x), float(y)) for x, y, _, _ in row_points]
    assert yb < ya  # first row on top
    assert xa > xb
    labels = texts(svg)
    assert "0.64 [0.59–0.69]  Holm p 5.3e-26  FAIL" in labels and "0.95 [0.85–1.05]  Holm p 0.400  PASS" in labels
    assert "four-fifths threshold ≥ 0.80 " in labels  # right of the middle: the label ends at the line
    assert "significant after Holm adjustment" in labels and "not significant after Holm adjustment" in labels


def test_disparity_forest_two_panels_and_a_missing_value_named() -> None:
    rows = [{"panel": "ratio", "label": "Demographic parity ratio", "value": 0.82, "ci_low": 0.75, "ci_high": 0.9,
             "status": "REVIEW", "threshold": 0.8, "greater_is_better": True},
            {"panel": "difference", "label": "Equalized odds difference", "value": None, "status": None}]
    svg = plots.disparity_forest_svg(rows, title="Disparities within race", salt="s")
    assert svg is not None
    labels = texts(svg)
    assert plots.PANELS["ratio"] in labels and plots.PANELS["difference"] in labels
    assert "0.820 [0.750–0.900]  REVIEW" in labels and "—  not judged" in labels and "not computed" in labels
    assert "Demographic parity ratio" in labels and "Equalized odds difference" in labels
    assert " threshold ≥ 0.80" in labels or "threshold ≥ 0.80 " in labels
    assert plots.disparity_forest_svg([{"panel": "other"}], title="t", salt="s") is None


def test_drift_bars_largest_first_with_band_lines() -> None:
    rows = [{"feature": "a", "psi": 0.01, "band": "stable"}, {"feature": "b", "psi": 0.25, "band": "significant"},
            {"feature": "c", "psi": 0.12, "psi_low": 0.1, "psi_high": 0.15, "band": "moderate"},
            {"feature": "d", "psi": None}]
    svg = plots.drift_svg(rows, moderate=0.1, significant=0.2, limit=0.2, title="PSI", salt="s")
    assert svg is not None
    drawn = bars(svg)
    assert list(drawn) == ["b", "c", "a"]  # d has no PSI: no bar
    assert [f for _, _, f in drawn.values()] == ["#b42318", "#e69f00", "#56a0d3"]
    assert drawn["c"][1] / drawn["b"][1] == pytest.approx(0.12 / 0.25, abs=2e-3)
    labels = texts(svg)
    assert " significant &gt; 0.20 · policy limit" in labels and " moderate &gt; 0.10" in labels
    assert "0.120 [0.100–0.150]  moderate" in labels


def test_reliability_one_panel_per_group_and_robustness_lines_per_group() -> None:
    bins = [{"group": g, "mean_score": s, "observed_rate": o, "ece": 0.01, "reference": g == "A"}
            for g in ("A", "B") for s, o in ((0.1, 0.12), (0.9, 0.88))]
    svg = plots.reliability_svg(bins, title="Calibration by race", salt="s")
    assert svg is not None
    labels = texts(svg)
    assert "A (reference)" in labels and "B" in labels and labels.count("ECE 0.010") == 2
    assert svg.count("<polyline") == 2
    rows = [{"grouping": gr, "group": g, "severity": sv, "flip_rate": f, "accuracy_drop": f / 2}
            for gr, g in (("all", "everyone"), ("sex", "F"), ("sex", "M"))
            for sv, f in (("low", 0.02), ("high", 0.08))]
    curve = plots.robustness_svg(rows, severities=["low", "high"], labels=["low (0.1)", "high (0.5)"], judged="low",
                                 limits={"flip_rate": 0.1, "accuracy_drop": None}, title="Robustness", salt="s")
    assert curve is not None
    labels = texts(curve)
    assert {"everyone", "F", "M", "decisions changed, by sex", "accuracy drop (points), by sex",
            "policy limit 10%", "low", "(0.1)"} <= set(labels)
    assert curve.count("<polyline") == 2 * 3  # two panels, three lines each


def test_group_names_are_escaped_text_and_svgs_are_deterministic_without_ids() -> None:
    rows = [_group("<script>$x$ & y", 0.5, 0.4, 0.6, reference=True), _group("B", 0.4, 0.3, 0.5)]
    svg = plots.selection_rate_svg(rows, title="t", ratio_limit=0.8, salt="s")
    assert "<script>" not in svg and "&lt;script&gt;$x$ &amp; y (reference)" in texts(svg)
    assert svg == plots.selection_rate_svg(rows, title="t", ratio_limit=0.8, salt="other")
    assert " id=" not in svg


def test_every_plot_of_a_large_report_draws_fast() -> None:
    rows = [_group(f"group {i}", 0.3 + i / 100, 0.25, 0.5) for i in range(30)]
    t0 = time.perf_counter()
    for _ in range(20):
        plots.selection_rate_svg(rows, title="t", ratio_limit=0.8, salt="s")
        plots.error_rates_svg(rows, title="t", salt="s")
    assert time.perf_counter() - t0 < 1.0  # matplotlib took about 0.2 s a figure


def test_ticks_are_round_numbers_with_the_step_decimals() -> None:
    assert nice_ticks(0.0, 1.0, 5) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-0.03, 0.21, 5) == [0.0, 0.05, 0.1, 0.15, 0.2]
    assert nice_ticks(0.0, 0.57, 7) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert tick_decimals([0.0, 0.25]) == 2 and tick_decimals([0.0, 0.2]) == 1 and tick_decimals([0, 5]) == 0
