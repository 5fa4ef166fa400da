"""Plots for the HTML report, written as inline SVG strings by `harness.report.drawing`.

Each figure is laid out by hand in inches (label widths estimated from their length) and drawn as plain SVG:
no plotting library, so a report renders in milliseconds (matplotlib took 2.5-5 s of an `assess`, issue 13
section 5) and imports nothing heavy. Every SVG is deterministic: no ids, no date, no metadata, text as text.
The `salt` each function takes names the figure in the page; it is kept for callers and not needed (no ids).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.report.drawing import Axes, Figure, nice_ticks, text_width, tick_decimals
from harness.report.formatting import num as _num  # one definition of "a usable number" for every format

Row = Mapping[str, Any]
Handle = tuple[Callable[[float, float], None], str]

# Colour-blind-safe palette (Okabe-Ito), the same hues as the report's badges.
REFERENCE = "#0b4f8a"
GROUP = "#56a0d3"
BELOW_LINE = "#c0392b"
TOO_FEW = "#c4c4c4"
LINE = "#b42318"
TPR_COLOUR = "#0072b2"
FPR_COLOUR = "#e69f00"
INK = "#333333"
DASHED = "4.8,2.1"  # matplotlib's "--" at about 1.3 points

WIDTH = 8.0  # inches
DASH = "—"


def _label(row: Row) -> str:
    name = str(row.get("group", "?"))
    if row.get("reference"):
        return f"{name} (reference)"
    if row.get("insufficient"):
        return f"{name} (too few rows)"
    return name


def _err(row: Row, metric: str) -> tuple[float, float]:
    """Distances from the value to its interval bounds (below, above)."""
    v, lo, hi = _num(row.get(metric)), _num(row.get(f"{metric}_low")), _num(row.get(f"{metric}_high"))
    if v is None:
        return 0.0, 0.0
    return (max(0.0, v - lo) if lo is not None else 0.0), (max(0.0, hi - v) if hi is not None else 0.0)


def _left_margin(labels: Sequence[str]) -> float:
    return 0.25 + max([text_width(t, 9) for t in labels] + [0.3])


def _nbins(inches: float) -> int:
    return max(3, min(9, round(inches * 1.3)))


def _percent_axis(ax: Axes, upper: float, inches: float) -> None:
    """0 to `upper` as whole percents, with vertical grid lines."""
    ticks = nice_ticks(0.0, upper, _nbins(inches))
    ax.xticks(ticks, [f"{t * 100:.0f}%" for t in ticks], grid=True)


def _number_axis(ax: Axes, inches: float, *, size: float = 9) -> None:
    ticks = nice_ticks(*ax.xlim, _nbins(inches))
    d = tick_decimals(ticks)
    ax.xticks(ticks, [f"{t:.{d}f}" for t in ticks], grid=True, size=size)


def _row_labels(ax: Axes, labels: Sequence[str]) -> None:
    ax.yticks(list(range(len(labels))), labels, length=0)


def _axes_title(ax: Axes, text: str, *, pad: float, size: float = 10, bold: bool = True,
                colour: str = "#000000") -> None:
    ax.fig.text(ax.left, ax.top - pad, text, size=size, bold=bold, colour=colour, va="bottom")


def four_fifths_line(rows: Sequence[Row], ratio_limit: float | None) -> float | None:
    """`ratio_limit` x the highest selection rate among groups large enough to judge."""
    if ratio_limit is None:
        return None
    rates = [v for r in rows if not r.get("insufficient") and (v := _num(r.get("selection_rate"))) is not None]
    return ratio_limit * max(rates) if rates else None


def selection_rate_svg(rows: Sequence[Row], *, title: str, ratio_limit: float | None, salt: str) -> str:
    """Each group's selection rate with its interval, and the four-fifths line the policy judges by."""
    line = four_fifths_line(rows, ratio_limit)
    labels = [_label(r) for r in rows]
    plot, top_m, bottom_m = 0.3 * max(len(rows), 1), 0.55, 0.72
    left = _left_margin(labels)
    fig = Figure(WIDTH, top_m + plot + bottom_m)
    values, colours, errs = [], [], []
    for r in rows:
        v = _num(r.get("selection_rate"))
        values.append(v or 0.0)
        errs.append(_err(r, "selection_rate"))
        if r.get("insufficient"):
            colours.append(TOO_FEW)
        elif line is not None and v is not None and v < line:
            colours.append(BELOW_LINE)
        elif r.get("reference"):
            colours.append(REFERENCE)
        else:
            colours.append(GROUP)
    tops = [v + e[1] for v, e in zip(values, errs, strict=True)]
    upper = min(1.0, max([*tops, line or 0.0, 0.05]) * 1.22 + 0.02)
    width = WIDTH - left - 0.25
    ax = fig.axes((left, bottom_m, width, plot), (0.0, upper), (len(rows) - 0.5, -0.5))
    _percent_axis(ax, upper, width)
    for y, (r, v, colour, e, top) in enumerate(zip(rows, values, colours, errs, tops, strict=True)):
        ax.hbar(y, v, 0.62, colour, label=labels[y])
        ax.xerr(y, v - e[0], v + e[1], width=1.0, cap=3.0)
        shown = _num(r.get("selection_rate"))
        fig.text(ax.px(top + upper * 0.012), ax.py(y), "no data" if shown is None else f"{shown:.1%}", size=8,
                 colour=INK, va="center")
    _row_labels(ax, labels)
    ax.spines()
    ax.xlabel("selection rate (share of the group given the favourable outcome); whiskers: 95% interval")
    _axes_title(ax, title, pad=16)
    legend = {REFERENCE: "reference group", GROUP: "other group", BELOW_LINE: "below the four-fifths line",
              TOO_FEW: "too few rows to judge"}
    handles: list[Handle] = [(fig.patch(c), text) for c, text in legend.items() if c in colours]
    if line is not None:
        ax.vline(line, LINE, 1.3, dash=DASHED)
        on_left = line < 0.5 * upper
        text = f"four-fifths line: {ratio_limit:.2f} × highest rate = {line:.1%}"
        fig.text(ax.px(line), ax.top, f" {text}" if on_left else f"{text} ", size=8, colour=LINE,
                 anchor="start" if on_left else "end", va="bottom")
    fig.legend_row(0.04, handles)
    return fig.svg(f"Selection rate by group: {title}")


def error_rates_svg(rows: Sequence[Row], *, title: str, salt: str) -> str | None:
    """True- and false-positive rate of each group with intervals; None when no group has either."""
    if not any(_num(r.get(m)) is not None for r in rows for m in ("tpr", "fpr")):
        return None
    labels = [_label(r) for r in rows]
    plot, top_m, bottom_m = 0.48 * max(len(rows), 1), 0.32, 0.72
    left = _left_margin(labels)
    width = WIDTH - left - 0.25
    fig = Figure(WIDTH, top_m + plot + bottom_m)
    ax = fig.axes((left, bottom_m, width, plot), (0.0, 1.0), (len(rows) - 0.5, -0.5))
    _percent_axis(ax, 1.0, width)
    h = 0.36
    for metric, colour, offset in (("tpr", TPR_COLOUR, -h / 2), ("fpr", FPR_COLOUR, h / 2)):
        for y, r in enumerate(rows):
            v = _num(r.get(metric)) or 0.0
            e = _err(r, metric)
            ax.hbar(y + offset, v, h, colour, opacity=0.35 if r.get("insufficient") else None,
                    label=f"{labels[y]} {metric}")
            ax.xerr(y + offset, v - e[0], v + e[1], width=0.9, cap=2.0)
    for y, r in enumerate(rows):
        if _num(r.get("tpr")) is None and _num(r.get("fpr")) is None:
            fig.text(ax.px(0.01), ax.py(y), "no data", size=8, colour=INK, va="center")
    _row_labels(ax, labels)
    ax.spines()
    ax.xlabel("rate; whiskers: 95% interval")
    _axes_title(ax, title, pad=6)
    fig.legend_row(0.04, [(fig.patch(TPR_COLOUR), "true-positive rate (qualified people selected)"),
                          (fig.patch(FPR_COLOUR), "false-positive rate (unqualified people selected)")])
    return fig.svg(f"True- and false-positive rates by group: {title}")


# ---------------------------------------------------------------------------------------------- forest plots

STATUS_COLOURS = {"FAIL": "#b42318", "REVIEW": "#c98a00", "PASS": "#1a7f37", "INSUFFICIENT": "#8a5a00",
                  "ERROR": "#6b21a8"}
NOT_JUDGED = "#8c959f"
STATUS_LABELS = {"FAIL": "FAIL", "REVIEW": "REVIEW (interval crosses the threshold)", "PASS": "PASS",
                 "INSUFFICIENT": "too little data", "ERROR": "error", None: "no threshold (not judged)"}
PARITY = "#9aa3ad"
PANELS = {
    "ratio": "Ratios: lowest group's rate ÷ highest group's (1 = parity)",
    "difference": "Differences: highest group's rate − lowest group's (0 = parity)",
}
ROW = 0.27  # inches per row of a forest plot
POINT = math.sqrt(44)  # points across a forest plot's point (matplotlib's scatter s=44)


def _colour(status: Any) -> str:
    return STATUS_COLOURS.get(str(status), NOT_JUDGED) if status else NOT_JUDGED


def _interval(row: Row) -> tuple[float | None, float | None, float | None]:
    """value and interval bounds (a missing bound is the value itself)."""
    v = _num(row.get("value"))
    if v is None:
        return None, None, None
    lo, hi = _num(row.get("ci_low")), _num(row.get("ci_high"))
    return v, (v if lo is None else min(lo, v)), (v if hi is None else max(hi, v))


def _numbers(row: Row, digits: int, extra: str = "") -> str:
    """'0.634 [0.576–0.698]  FAIL': the numbers printed right of a forest plot row."""
    v, lo, hi = _num(row.get("value")), _num(row.get("ci_low")), _num(row.get("ci_high"))
    text = DASH if v is None else f"{v:.{digits}f}" + (
        f" [{lo:.{digits}f}–{hi:.{digits}f}]" if lo is not None and hi is not None else "")
    return text + (f"  {extra}" if extra else "") + f"  {row.get('status') or 'not judged'}"


def _forest_rows(ax: Axes, rows: Sequence[Row], texts: Sequence[str], *, filled: Sequence[bool] | None = None) -> None:
    """One point with its whisker per row, top to bottom, and its numbers in a column right of the axes."""
    fig = ax.fig
    for y, r in enumerate(rows):
        v, lo, hi = _interval(r)
        colour = _colour(r.get("status"))
        if v is not None and lo is not None and hi is not None:
            py = ax.py(y)
            fig.line(ax.px(lo), py, ax.px(hi), py, colour, 1.8)
            fig.marker("|", ax.px(lo), py, math.sqrt(45), colour, colour, 1.6)
            fig.marker("|", ax.px(hi), py, math.sqrt(45), colour, colour, 1.6)
            face = colour if filled is None or filled[y] else "#ffffff"
            fig.marker("o", ax.px(v), py, POINT, face, colour, 1.6)
        else:
            fig.text(ax.left + 0.01 * (ax.right - ax.left), ax.py(y), "not computed", size=8, colour=NOT_JUDGED,
                     va="center")
        fig.text(ax.left + 1.015 * (ax.right - ax.left), ax.py(y), texts[y], size=8, va="center",
                 colour=_colour(r.get("status")) if r.get("status") else "#5b6570")
    _row_labels(ax, [str(r.get("label", "?")) for r in rows])


def _thresholds(ax: Axes, rows: Sequence[Row], label: str = "threshold") -> None:
    """Each row's threshold as a dashed segment across its row (rows without one get none, so a measure
    nobody judges is not read against a limit), labelled once above the axes ('threshold ≥ 0.80')."""
    seen: dict[float, Any] = {}
    lo, hi = ax.xlim
    for t_row in rows:
        t = _num(t_row.get("threshold"))
        if t is not None and t not in seen:
            seen[t] = t_row.get("greater_is_better")
    for t, gib in sorted(seen.items()):
        ys = [y for y, r in enumerate(rows) if _num(r.get("threshold")) == t]
        runs: list[list[int]] = []
        for y in ys:
            if runs and runs[-1][-1] == y - 1:
                runs[-1].append(y)
            else:
                runs.append([y])
        for run in runs:
            top = -0.55 if run[0] == 0 else run[0] - 0.5
            bottom = len(rows) - 0.45 if run[-1] == len(rows) - 1 else run[-1] + 0.5
            ax.vline(t, LINE, 1.3, dash=DASHED, y0=top, y1=bottom)
        sign = "" if gib is None else ("≥ " if gib else "≤ ")
        text = f"{label} {sign}{t:.2f}"
        right = (t - lo) > 0.55 * (hi - lo)
        ax.fig.text(ax.px(t), ax.top, f"{text} " if right else f" {text}", size=8, colour=LINE,
                    anchor="end" if right else "start", va="bottom")


def _status_handles(fig: Figure, statuses: Sequence[Any]) -> list[Handle]:
    order = [s for s in ("FAIL", "REVIEW", "INSUFFICIENT", "ERROR", "PASS", None) if s in statuses]
    return [(fig.point(_colour(s)), STATUS_LABELS[s]) for s in order]


def disparity_forest_svg(rows: Sequence[Row], *, title: str, salt: str) -> str | None:
    """Every disparity measure of one grouping: point and interval, coloured by its finding's status,
    against the policy threshold; ratios and differences in two panels (their scales differ)."""
    panels = [(p, [r for r in rows if r.get("panel") == p]) for p in PANELS]
    panels = [(p, rs) for p, rs in panels if rs]
    if not panels:
        return None
    texts = {id(r): _numbers(r, 3) for _, rs in panels for r in rs}
    left = 0.25 + max(text_width(str(r.get("label", "?")), 9) for _, rs in panels for r in rs)
    right = 0.15 + max(text_width(t, 8) for t in texts.values())
    head, p_top, p_bottom, legend = 0.32, 0.42, 0.32, 0.36
    height = head + legend + sum(p_top + ROW * len(rs) + 0.15 + p_bottom for _, rs in panels)
    fig = Figure(WIDTH, height)
    y = height - head
    for panel, rs in panels:
        h = ROW * len(rs) + 0.15
        y -= p_top + h
        tops = [hi for r in rs if (hi := _interval(r)[2]) is not None]
        lows = [lo for r in rs if (lo := _interval(r)[1]) is not None]
        limits = [t for r in rs if (t := _num(r.get("threshold"))) is not None]
        low = min([0.0, *lows])
        high = max([1.0, *tops, *limits]) * 1.04 if panel == "ratio" else max([*tops, *limits, 0.02]) * 1.15
        width = WIDTH - left - right
        ax = fig.axes((left, y, width, h), (low - 0.025 * (high - low), high), (len(rs) - 0.45, -0.55))
        y -= p_bottom
        _number_axis(ax, width)
        ax.vline(1.0 if panel == "ratio" else 0.0, PARITY, 1.0)
        _thresholds(ax, rs)
        _forest_rows(ax, rs, [texts[id(r)] for r in rs])
        ax.spines()
        _axes_title(ax, PANELS[panel], pad=14, size=9, bold=False, colour=INK)
    fig.title(title)
    fig.legend_row(0.06, _status_handles(fig, [r.get("status") or None for r in rows]))
    return fig.svg(f"Forest plot of the disparities: {title}")


def four_fifths_svg(rows: Sequence[Row], *, title: str, threshold: float | None, salt: str) -> str | None:
    """Each group's adverse impact ratio against the reference group, with its interval and the four-fifths
    line; filled points are significant after Holm's adjustment, hollow ones are not."""
    if not rows:
        return None
    ps = [_num(r.get("p_adjusted")) for r in rows]
    texts = [_numbers(r, 2, "" if p is None else f"Holm p {p:.3f}" if p >= 0.01 else f"Holm p {p:.2g}")
             for r, p in zip(rows, ps, strict=True)]
    left = 0.25 + max(text_width(str(r.get("label", "?")), 9) for r in rows)
    right = 0.15 + max(text_width(t, 8) for t in texts)
    head, p_top, p_bottom, legend = 0.32, 0.3, 0.5, 0.5
    h = ROW * len(rows) + 0.15
    height = head + p_top + h + p_bottom + legend
    fig = Figure(WIDTH, height)
    tops = [hi for r in rows if (hi := _interval(r)[2]) is not None]
    high = max([1.2, *tops, threshold or 0.0]) * 1.04
    width = WIDTH - left - right
    ax = fig.axes((left, legend + p_bottom, width, h), (-0.025 * high, high), (len(rows) - 0.45, -0.55))
    _number_axis(ax, width)
    ax.vline(1.0, PARITY, 1.0)
    if threshold is not None:
        _thresholds(ax, [{"threshold": threshold, "greater_is_better": True}] * len(rows), "four-fifths threshold")
    _forest_rows(ax, rows, texts, filled=[bool(r.get("significant")) for r in rows])
    ax.spines()
    ax.xlabel("adverse impact ratio: the group's selection rate ÷ the reference group's (1 = parity); "
              "whiskers: 95% interval", size=8)
    fig.title(title)
    fig.legend_row(0.24, _status_handles(fig, [r.get("status") or None for r in rows]))
    fig.legend_row(0.04, [(fig.point(INK), "significant after Holm adjustment"),
                          (fig.point(INK, "#ffffff"), "not significant after Holm adjustment")])
    return fig.svg(f"Forest plot of the adverse impact ratios: {title}")


def reliability_svg(bins: Sequence[Row], *, title: str, salt: str) -> str | None:
    """A small reliability diagram per group: observed rate against mean score per bin, with the diagonal
    of perfect calibration."""
    groups = list(dict.fromkeys(str(b.get("group")) for b in bins))
    if not groups:
        return None
    ncols = min(5, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    side, wgap, hgap, left, head, foot = 1.3, 0.28, 0.62, 0.62, 0.8, 0.55
    width = max(left + ncols * side + (ncols - 1) * wgap + 0.15, text_width(title, 10) + 0.3)
    height = head + nrows * side + (nrows - 1) * hgap + foot
    fig = Figure(width, height)
    for i, g in enumerate(groups):
        row, col = divmod(i, ncols)
        bottom = height - head - side - row * (side + hgap)
        ax = fig.axes((left + col * (side + wgap), bottom, side, side), (-0.03, 1.03), (-0.03, 1.03))
        mine = [b for b in bins if str(b.get("group")) == g]
        ref = any(b.get("reference") for b in mine)
        colour = REFERENCE if ref else GROUP
        xs = [_num(b.get("mean_score")) or 0.0 for b in mine]
        ys = [_num(b.get("observed_rate")) or 0.0 for b in mine]
        lows = [lo if (lo := _num(b.get("observed_low"))) is not None else y for b, y in zip(mine, ys, strict=True)]
        highs = [hi if (hi := _num(b.get("observed_high"))) is not None else y for b, y in zip(mine, ys, strict=True)]
        last_row = i + ncols >= len(groups)
        ax.xticks([0, 0.5, 1], ["0", "0.5", "1"] if last_row else ["", "", ""], size=7)
        ax.yticks([0, 0.5, 1], ["0", "0.5", "1"] if col == 0 else ["", "", ""], size=7)
        ax.spines()
        fig.line(ax.px(0), ax.py(0), ax.px(1), ax.py(1), PARITY, 0.9, dash="3.3,1.4")
        for x, lo, hi in zip(xs, lows, highs, strict=True):
            fig.line(ax.px(x), ax.py(lo), ax.px(x), ax.py(hi), colour, 1.0)
        fig.polyline([(ax.px(x), ax.py(y)) for x, y in zip(xs, ys, strict=True)], colour, 1.2)
        for x, y in zip(xs, ys, strict=True):
            fig.marker("o", ax.px(x), ax.py(y), 3.5, colour, colour, 1.0)
        if col == 0:
            ax.ylabel("observed positive rate", size=7.5, left=22)
        if last_row:
            ax.xlabel("mean score in the bin", size=7.5, below=16)
        ece = _num(mine[0].get("ece"))
        name = g + (" (reference)" if ref else "")
        lines = [name, *([f"ECE {ece:.3f}"] if ece is not None else [])]
        for k, text in enumerate(reversed(lines)):
            fig.text((ax.left + ax.right) / 2, ax.top - 6 - k * 9.6, text, size=8, anchor="middle", va="bottom")
    fig.title(title)
    return fig.svg(title)


# ---------------------------------------------------------------------------------------------- degradation

# Okabe-Ito without its yellow, then Paul Tol's muted hues: distinct for up to 12 groups
SERIES = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#332288", "#882255", "#44aa99",
          "#999933", "#aa4499", "#6699cc")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "p", "*")
EVERYONE = "#1d2329"
ROBUSTNESS_METRICS = (("flip_rate", "decisions changed"), ("accuracy_drop", "accuracy drop (points)"))
Series = tuple[str, list[Row], str, str, bool]


def _grouping_title(grouping: str) -> str:
    return grouping.replace("_x_", " × ")


def _robustness_panel(fig: Figure, box: tuple[float, float, float, float], series: list[Series],
                      severities: Sequence[str], tick_labels: Sequence[str], metric: str, judged: str | None,
                      limit: float | None) -> Axes:
    """One metric against severity: a line per group, whiskers for its interval (dodged so they do not
    overlap), the judged severity shaded and the policy limit dashed."""
    xs = range(len(severities))
    spread = 0.22 if len(series) > 1 else 0.0
    values: list[float] = [0.0]
    drawn: list[tuple[list[float], list[float], list[float], list[float], str, str, bool]] = []
    for i, (_, rows, colour, marker, few) in enumerate(series):
        offset = (i / (len(series) - 1) - 0.5) * spread if len(series) > 1 else 0.0
        by = {str(r.get("severity")): r for r in rows}
        pts = [(x + offset, by[sv]) for x, sv in zip(xs, severities, strict=True) if sv in by]
        pts = [(x, r) for x, r in pts if _num(r.get(metric)) is not None]
        if not pts:
            continue
        ys = [_num(r.get(metric)) or 0.0 for _, r in pts]
        lows = [lo if (lo := _num(r.get(f"{metric}_low"))) is not None else y
                for (_, r), y in zip(pts, ys, strict=True)]
        highs = [hi if (hi := _num(r.get(f"{metric}_high"))) is not None else y
                 for (_, r), y in zip(pts, ys, strict=True)]
        values += [*lows, *highs]
        drawn.append(([x for x, _ in pts], ys, lows, highs, colour, marker, few))
    if limit is not None:
        values.append(limit)
    low, high = min(values), max(values)
    pad = (high - low) * 0.12 or 0.01
    ax = fig.axes(box, (-0.5, len(severities) - 0.5), (min(0.0, low) - (pad if low < 0 else 0), high + pad))
    if judged is not None and judged in severities:
        j = list(severities).index(judged)
        fig.rect(ax.px(j - 0.4), ax.top, ax.px(j + 0.4) - ax.px(j - 0.4), ax.bottom - ax.top, "#eef1f4")
    ticks = nice_ticks(*ax.ylim, 6, steps=(1, 2, 5, 10))
    step = abs(ticks[1] - ticks[0]) * 100 if len(ticks) > 1 else 1.0
    digits = 0 if step >= 0.999 else 1 if step >= 0.0999 else 2  # as many decimals as the tick step has

    def tick(v: float) -> str:
        text = f"{v * 100:.{digits}f}" if metric == "flip_rate" else f"{v * 100:+.{digits}f}"
        if float(text) == 0:
            text = "0"
        return text + "%" if metric == "flip_rate" else text

    ax.yticks(ticks, [tick(t) for t in ticks], size=7.5, grid=True)
    ax.xticks(list(xs), list(tick_labels), size=7.5)
    if limit is not None:
        ax.hline(limit, LINE, 1.1, dash="4.1,1.8")
        unit = "%" if metric == "flip_rate" else " points"
        fig.text(ax.px(-0.45), ax.py(limit), f"policy limit {limit * 100:g}{unit}", size=7, colour=LINE, va="bottom")
    if low < 0:
        ax.hline(0.0, PARITY, 0.8)
    for px_x, _ys, lows, highs, colour, _marker, few in drawn:  # whiskers under the lines
        for x, lo, hi in zip(px_x, lows, highs, strict=True):
            fig.line(ax.px(x), ax.py(lo), ax.px(x), ax.py(hi), colour, 0.9, opacity=0.55 if few else 0.85)
    for px_x, ys, _lows, _highs, colour, marker, few in sorted(drawn, key=lambda d: d[4] == EVERYONE):
        everyone = colour == EVERYONE
        points = [(ax.px(x), ax.py(y)) for x, y in zip(px_x, ys, strict=True)]
        fig.polyline(points, colour, 2.2 if everyone else 1.2, dash="1.5,2" if few else None,
                     opacity=0.55 if few else None)
        for x, y in points:
            fig.marker(marker, x, y, 4.2 if everyone else 3.6, "#ffffff" if few else colour, colour, 1.0,
                       opacity=0.55 if few else None)
    ax.spines()
    return ax


def robustness_svg(rows: Sequence[Row], *, severities: Sequence[str], labels: Sequence[str], judged: str | None,
                   limits: Mapping[str, float | None], title: str, salt: str) -> str | None:
    """Robustness curves of one perturbation kind: for each grouping (a row of panels) the share of decisions
    that change and the accuracy drop against severity, one line per group and one for everyone, with
    interval whiskers; the judged severity is shaded and the policy's overall limit dashed."""
    if not rows or not severities:
        return None
    everyone = [r for r in rows if r.get("grouping") == "all"]
    groupings = list(dict.fromkeys(str(r.get("grouping")) for r in rows if r.get("grouping") != "all"))
    panels = groupings or ["all"]
    legend_w, left, gap, right = 2.25, 0.55, 0.55, 0.1
    side = (WIDTH - left - gap - legend_w - right) / 2
    heads, head, foot, vgap = 0.55, 0.22, 0.42, 0.5
    heights = [max(1.55, 0.165 * (1 + len({str(r.get('group')) for r in rows if str(r.get('grouping')) == g}))
                   + 0.1) for g in panels]
    height = heads + sum(head + h + foot for h in heights) + vgap * (len(panels) - 1) + 0.1
    fig = Figure(WIDTH, height)
    tick_labels = [lb.replace(" (", "\n(") for lb in labels]
    top = height - heads
    for g, h in zip(panels, heights, strict=True):
        top -= head
        bottom = top - h
        mine = [r for r in rows if str(r.get("grouping")) == g] if g != "all" else []
        names = list(dict.fromkeys(str(r.get("group")) for r in mine))
        series: list[Series] = []
        if everyone:
            series.append(("everyone", everyone, EVERYONE, "o", False))
        for i, name in enumerate(names):
            grows = [r for r in mine if str(r.get("group")) == name]
            few = any(r.get("insufficient") for r in grows)
            series.append((name, grows, SERIES[i % len(SERIES)], MARKERS[i % len(MARKERS)], few))
        for mi, (metric, label) in enumerate(ROBUSTNESS_METRICS):
            x0 = left + mi * (side + gap)
            _robustness_panel(fig, (x0, bottom, side, h), series, severities, tick_labels, metric, judged,
                              limits.get(metric))
            what = "everyone" if g == "all" else f"by {_grouping_title(g)}"
            fig.text(fig.x(x0), fig.y(bottom + h + 0.06), f"{label}, {what}", size=8.5, colour=INK, va="bottom")
        handles: list[Handle] = [
            (fig.line_handle(c, m, width=2.2 if c == EVERYONE else 1.2, dotted=few, face="#ffffff" if few else c),
             name + (" (too few rows)" if few else "")) for name, _, c, m, few in series]
        fig.legend_column(left + 2 * side + gap + 0.25, bottom + h, handles)
        top = bottom - foot - vgap
    fig.title(title)
    fig.text(fig.x(0.1), fig.y(height - 0.36),
             "whiskers: 95% interval" + (f"; shaded: the judged severity ({judged})" if judged else "")
             + ("; dashed: the policy's limit for everyone" if any(v is not None for v in limits.values()) else "")
             + "; dotted: a group with too few rows to judge", size=7.5, colour="#5b6570", va="top")
    return fig.svg(title)


BAND_COLOURS = {"stable": "#56a0d3", "moderate": "#e69f00", "significant": "#b42318"}


def drift_svg(rows: Sequence[Row], *, moderate: float, significant: float, limit: float | None, title: str,
              salt: str) -> str | None:
    """PSI per feature as horizontal bars, largest first, with its interval, coloured by band, and the
    0.1 / 0.2 band lines and the policy limit."""
    rows = [r for r in rows if _num(r.get("psi")) is not None]
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: -(_num(r.get("psi")) or 0.0))
    labels = [str(r.get("feature", "?")) for r in rows]
    texts = []
    for r in rows:
        lo, hi = _num(r.get("psi_low")), _num(r.get("psi_high"))
        texts.append(f"{_num(r.get('psi')):.3f}" + (f" [{lo:.3f}–{hi:.3f}]" if lo is not None and hi is not None
                                                    else "") + f"  {r.get('band') or ''}")
    left = 0.25 + max(text_width(t, 9) for t in labels)
    right = 0.15 + max(text_width(t, 8) for t in texts)
    head, top_gap, bottom_gap, legend = 0.32, 0.42, 0.5, 0.36
    h = ROW * len(rows) + 0.15
    height = head + top_gap + h + bottom_gap + legend
    fig = Figure(WIDTH, height)
    values = [_num(r.get("psi")) or 0.0 for r in rows]
    errs = [_err({"v": v, "v_low": r.get("psi_low"), "v_high": r.get("psi_high")}, "v")
            for v, r in zip(values, rows, strict=True)]
    colours = [BAND_COLOURS.get(str(r.get("band")), NOT_JUDGED) for r in rows]
    lines = {moderate: f"moderate > {moderate:.2f}", significant: f"significant > {significant:.2f}"}
    if limit is not None:
        lines[limit] = (lines[limit] + " · policy limit") if limit in lines else f"policy limit {limit:.2f}"
    high = max([*(v + e[1] for v, e in zip(values, errs, strict=True)), *lines]) * 1.08
    width = WIDTH - left - right
    ax = fig.axes((left, legend + bottom_gap, width, h), (0.0, high), (len(rows) - 0.45, -0.55))
    _number_axis(ax, width)
    for i, (x, text) in enumerate(sorted(lines.items())):
        strong = x in (significant, limit)
        ax.vline(x, LINE if strong else "#c98a00", 1.1, dash="4.1,1.8")
        above = 0.07 * (i % 2) * (ax.bottom - ax.top)  # every other label a little higher: they may be close
        fig.text(ax.px(x), ax.top - above, f" {text}", size=7.5, colour=LINE if strong else "#8a5a00", va="bottom")
    for y, (v, e, colour, text, r) in enumerate(zip(values, errs, colours, texts, rows, strict=True)):
        ax.hbar(y, v, 0.6, colour, label=labels[y])
        ax.xerr(y, v - e[0], v + e[1], width=0.9, cap=2.5)
        fig.text(ax.left + 1.015 * (ax.right - ax.left), ax.py(y), text, size=8, va="center",
                 colour=BAND_COLOURS.get(str(r.get("band")), "#5b6570") if r.get("band") != "stable" else INK)
    _row_labels(ax, labels)
    ax.spines()
    ax.xlabel("population stability index (PSI) between the reference data and the current sample; "
              "whiskers: 95% interval", size=8)
    fig.title(title)
    present = [b for b in BAND_COLOURS if any(str(r.get("band")) == b for r in rows)]
    fig.legend_row(0.06, [(fig.patch(BAND_COLOURS[b]), b) for b in present])
    return fig.svg(f"Drift chart: {title}")


TREND_W, TREND_H = 2.55, 1.75  # inches: three small multiples side by side on a printed page
TREND_H_MEMO = 1.05  # the memo's charts are shorter: it must stay on one page


def trend_svg(points: Sequence[Row], *, title: str, runs: int, threshold: float | None,
              greater_is_better: bool | None, height: float = TREND_H, salt: str = "") -> str | None:
    """One headline figure across a tool's assessments (`harness.trend`), a small multiple: each run's point and
    interval at its place in time order (`x`: the run's index of `runs`), coloured by its finding's status, the
    policy's threshold as a dashed line, and a dotted line before a point measured on other data (`new_data`):
    a figure on different data is not the same measurement, and the chart must not let it pass for one."""
    shown = [p for p in points if _num(p.get("value")) is not None]
    if not shown:
        return None
    fig = Figure(TREND_W, height)
    values = [b for p in shown for b in _interval(p) if b is not None]
    if threshold is not None:
        values.append(threshold)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.12 or max(abs(hi) * 0.1, 0.05)
    left, bottom, top = 0.48, 0.36, 0.44
    ax = fig.axes((left, bottom, TREND_W - left - 0.12, height - bottom - top), (-0.5, max(runs, 1) - 0.5),
                  (lo - pad, hi + pad))
    ticks = nice_ticks(lo - pad, hi + pad, 4 if height >= TREND_H else 3)
    d = tick_decimals(ticks)
    ax.yticks(ticks, [f"{t:.{d}f}" for t in ticks], size=7, grid=True)
    if threshold is not None:
        ax.hline(threshold, LINE, 1.1, dash=DASHED)
        sign = "" if greater_is_better is None else ("≥ " if greater_is_better else "≤ ")
        fig.text(ax.right, ax.py(threshold) - 2, f"threshold {sign}{threshold:g}", size=6.5, colour=LINE,
                 anchor="end", va="bottom")
    for p in shown:
        x = float(p["x"])
        if p.get("new_data"):
            ax.vline(x - 0.5, INK, 0.9, dash="1.5,2")
            fig.text(ax.px(x - 0.5) + 2, ax.top + 1, "new data", size=6.5, colour=INK, va="top")
    line = [(ax.px(float(p["x"])), ax.py(float(p["value"]))) for p in shown]
    if len(line) > 1:
        fig.polyline(line, PARITY, 1.0)
    for p in shown:
        v, low, high = _interval(p)
        assert v is not None and low is not None and high is not None
        colour, px = _colour(p.get("status")), ax.px(float(p["x"]))
        if high > low:
            fig.line(px, ax.py(low), px, ax.py(high), colour, 1.6)
            for b in (low, high):
                fig.line(px - 2.5, ax.py(b), px + 2.5, ax.py(b), colour, 1.2)
        fig.dot(px, ax.py(v), 2.75, colour)
    labelled = {0, runs - 1} if runs > 3 else set(range(runs))
    dates = {int(p["x"]): str(p.get("date", "")) for p in points}
    ax.xticks([float(i) for i in sorted(labelled) if i in dates],
              [dates[i] for i in sorted(labelled) if i in dates], size=6.5, length=2.5)
    ax.spines()
    check, _, group = title.partition("\n")
    fig.text(fig.x(0.06), fig.y(height - 0.08), check, size=7.5, bold=True, va="top")
    if group:
        fig.text(fig.x(0.06), fig.y(height - 0.24), group, size=7, colour=INK, va="top")
    return fig.svg(f"Trend of {title.replace(chr(10), ' ')} over {runs} assessment(s)")
