"""Plots for the HTML report, drawn with matplotlib and returned as inline SVG strings.

Figures are built with the object-oriented `Figure` API and never touch pyplot, so rendering a report
needs no display, opens no windows and cannot close or switch a notebook user's figures or backend.
matplotlib is imported inside the functions so `import harness.report` stays light.

Every SVG is deterministic: a fixed `svg.hashsalt` per figure (which also keeps element ids unique
when several SVGs share one HTML page), no date, no metadata block, text as text (no embedded glyphs).
"""
from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.report.markdown import num as _num  # one definition of "a usable number" for every format

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Row = Mapping[str, Any]

# Colour-blind-safe palette (Okabe-Ito), the same hues as the report's badges.
REFERENCE = "#0b4f8a"
GROUP = "#56a0d3"
BELOW_LINE = "#c0392b"
TOO_FEW = "#c4c4c4"
LINE = "#b42318"
TPR_COLOUR = "#0072b2"
FPR_COLOUR = "#e69f00"

_RC = {
    "svg.fonttype": "none",  # text stays text: small files, no embedded fonts
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "text.usetex": False,
}




def _plain(text: Any) -> str:
    """Group names are data: keep '$' from switching matplotlib into mathtext."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _label(row: Row) -> str:
    name = _plain(row.get("group", "?"))
    if row.get("reference"):
        return f"{name} (reference)"
    if row.get("insufficient"):
        return f"{name} (too few rows)"
    return name


def _err(row: Row, metric: str) -> tuple[float, float]:
    """Distances from the value to its interval bounds, as matplotlib's xerr wants them."""
    v, lo, hi = _num(row.get(metric)), _num(row.get(f"{metric}_low")), _num(row.get(f"{metric}_high"))
    if v is None:
        return 0.0, 0.0
    return (max(0.0, v - lo) if lo is not None else 0.0), (max(0.0, hi - v) if hi is not None else 0.0)


# Figures place their axes by hand (sizes in inches, label widths estimated from their length) rather
# than with constrained layout, which measures every text twice and would double the time a report with
# many groupings takes to render.
WIDTH = 8.0  # inches
DASH = "—"


def _text_width(text: str, points: float) -> float:
    """Roughly how wide `text` is, in inches (about 0.55 em a character in DejaVu Sans or Arial)."""
    return len(text) * points * 0.55 / 72


def _framed(labels: Sequence[str], *, plot: float, top: float, bottom: float,
            right: float = 0.25) -> tuple[Figure, Axes]:
    """A figure WIDTH wide with one axes `plot` inches tall, room for the y labels on its left, `top`
    inches above it (title) and `bottom` below (ticks, axis label, legend)."""
    from matplotlib.figure import Figure

    left = 0.25 + max([_text_width(t, 9) for t in labels] + [0.3])
    height = top + plot + bottom
    fig = Figure(figsize=(WIDTH, height))
    return fig, _axes_at(fig, (left, bottom, WIDTH - left - right, plot))


def _axes_at(fig: Figure, box: tuple[float, float, float, float]) -> Axes:
    """An axes at (left, bottom, width, height) inches."""
    w, h = fig.get_size_inches()
    left, bottom, width, height = box
    return fig.add_axes((left / w, bottom / h, width / w, height / h))


def _legend(fig: Figure, bottom: float, handles: list[Any]) -> None:
    """A row of legend entries centred `bottom` inches above the figure's lower edge."""
    if handles:
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, bottom / fig.get_size_inches()[1]),
                   ncols=len(handles), frameon=False, fontsize=8, handletextpad=0.4, columnspacing=1.4,
                   borderaxespad=0)


def _to_svg(fig: Figure, salt: str, description: str) -> str:
    """Serialise without the XML prolog, DOCTYPE (an external DTD link) or metadata block."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.find("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.DOTALL)
    # keep only the ids something points at (clip paths, markers): matplotlib's "figure_1", "axes_1"...
    # would repeat in every SVG of the page
    used = set(re.findall(r"#([\w.-]+)", svg))
    svg = re.sub(r' id="([^"]*)"', lambda m: m.group(0) if m.group(1) in used else "", svg)
    label = html.escape(description, quote=True)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1).strip() + "\n"


def _percent_axis(ax: Axes, upper: float) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.set_xlim(0, upper)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)


def four_fifths_line(rows: Sequence[Row], ratio_limit: float | None) -> float | None:
    """`ratio_limit` x the highest selection rate among groups large enough to judge."""
    if ratio_limit is None:
        return None
    rates = [v for r in rows if not r.get("insufficient") and (v := _num(r.get("selection_rate"))) is not None]
    return ratio_limit * max(rates) if rates else None


def selection_rate_svg(rows: Sequence[Row], *, title: str, ratio_limit: float | None, salt: str) -> str:
    """Each group's selection rate with its interval, and the four-fifths line the policy judges by."""
    import matplotlib
    from matplotlib.patches import Patch

    line = four_fifths_line(rows, ratio_limit)
    with matplotlib.rc_context(_RC):
        fig, ax = _framed([_label(r) for r in rows], plot=0.3 * max(len(rows), 1), top=0.55, bottom=0.72)
        ys = list(range(len(rows)))
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
        xerr = [[e[0] for e in errs], [e[1] for e in errs]]
        ax.barh(ys, values, color=colours, height=0.62, xerr=xerr,
                error_kw={"ecolor": "#333333", "elinewidth": 1, "capsize": 3})
        tops = [v + e[1] for v, e in zip(values, errs, strict=True)]
        upper = min(1.0, max([*tops, line or 0.0, 0.05]) * 1.22 + 0.02)
        for y, r, top in zip(ys, rows, tops, strict=True):
            v = _num(r.get("selection_rate"))
            ax.text(top + upper * 0.012, y, "no data" if v is None else f"{v:.1%}", va="center", fontsize=8,
                    color="#333333")
        ax.set_yticks(ys, [_label(r) for r in rows])
        ax.invert_yaxis()
        _percent_axis(ax, upper)
        ax.set_xlabel("selection rate (share of the group given the favourable outcome); whiskers: 95% interval")
        ax.set_title(_plain(title), loc="left", fontsize=10, fontweight="bold", pad=16)
        legend = {REFERENCE: "reference group", GROUP: "other group", BELOW_LINE: "below the four-fifths line",
                  TOO_FEW: "too few rows to judge"}
        handles = [Patch(color=c, label=text) for c, text in legend.items() if c in colours]
        if line is not None:
            ax.axvline(line, color=LINE, linestyle="--", linewidth=1.3)
            left = line < 0.5 * upper
            text = f"four-fifths line: {ratio_limit:.2f} × highest rate = {line:.1%}"
            ax.text(line, 1.0, f" {text}" if left else f"{text} ", transform=ax.get_xaxis_transform(),
                    color=LINE, fontsize=8, ha="left" if left else "right", va="bottom")
        _legend(fig, 0.04, handles)
        return _to_svg(fig, f"{salt}/selection", f"Selection rate by group: {title}")


def error_rates_svg(rows: Sequence[Row], *, title: str, salt: str) -> str | None:
    """True- and false-positive rate of each group with intervals; None when no group has either."""
    import matplotlib
    from matplotlib.patches import Patch

    if not any(_num(r.get(m)) is not None for r in rows for m in ("tpr", "fpr")):
        return None
    with matplotlib.rc_context(_RC):
        fig, ax = _framed([_label(r) for r in rows], plot=0.48 * max(len(rows), 1), top=0.32, bottom=0.72)
        ys = list(range(len(rows)))
        h = 0.36
        for metric, colour, offset in (("tpr", TPR_COLOUR, -h / 2), ("fpr", FPR_COLOUR, h / 2)):
            values = [_num(r.get(metric)) or 0.0 for r in rows]
            errs = [_err(r, metric) for r in rows]
            alphas = [0.35 if r.get("insufficient") else 1.0 for r in rows]
            bars = ax.barh([y + offset for y in ys], values, height=h, color=colour,
                           xerr=[[e[0] for e in errs], [e[1] for e in errs]],
                           error_kw={"ecolor": "#333333", "elinewidth": 0.9, "capsize": 2})
            for bar, alpha in zip(bars, alphas, strict=True):
                bar.set_alpha(alpha)
        for y, r in zip(ys, rows, strict=True):
            if _num(r.get("tpr")) is None and _num(r.get("fpr")) is None:
                ax.text(0.01, y, "no data", va="center", fontsize=8, color="#333333")
        ax.set_yticks(ys, [_label(r) for r in rows])
        ax.invert_yaxis()
        _percent_axis(ax, 1.0)
        ax.set_xlabel("rate; whiskers: 95% interval")
        ax.set_title(_plain(title), loc="left", fontsize=10, fontweight="bold")
        handles = [Patch(color=TPR_COLOUR, label="true-positive rate (qualified people selected)"),
                   Patch(color=FPR_COLOUR, label="false-positive rate (unqualified people selected)")]
        _legend(fig, 0.04, handles)
        return _to_svg(fig, f"{salt}/errors", f"True- and false-positive rates by group: {title}")


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
    drawn = [(y, r, *_interval(r)) for y, r in enumerate(rows)]
    drawn = [(y, r, v, lo, hi) for y, r, v, lo, hi in drawn if v is not None]
    if drawn:
        ys = [d[0] for d in drawn]
        colours = [_colour(d[1].get("status")) for d in drawn]
        faces = [c if filled is None or filled[y] else "white" for y, c in zip(ys, colours, strict=True)]
        ax.hlines(ys, [d[3] for d in drawn], [d[4] for d in drawn], colors=colours, linewidth=1.8, zorder=2)
        ax.scatter([d[3] for d in drawn] + [d[4] for d in drawn], ys + ys, marker="|", s=45, c=colours + colours,
                   linewidths=1.6, zorder=2)
        ax.scatter([d[2] for d in drawn], ys, s=44, facecolors=faces, edgecolors=colours, linewidths=1.6, zorder=3)
    for y, r in enumerate(rows):
        if _num(r.get("value")) is None:
            ax.text(0.01, y, "not computed", transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                    color=NOT_JUDGED)
        ax.text(1.015, y, texts[y], transform=ax.get_yaxis_transform(), va="center", ha="left", fontsize=8,
                color=_colour(r.get("status")) if r.get("status") else "#5b6570")
    ax.set_yticks(range(len(rows)), [_plain(r.get("label", "?")) for r in rows])
    ax.set_ylim(len(rows) - 0.45, -0.55)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)


def _thresholds(ax: Axes, rows: Sequence[Row], label: str = "threshold") -> None:
    """Each row's threshold as a dashed segment across its row (rows without one get none, so a measure
    nobody judges is not read against a limit), labelled once above the axes ('threshold ≥ 0.80')."""
    seen: dict[float, Any] = {}
    lo, hi = ax.get_xlim()
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
            ax.vlines(t, top, bottom, colors=LINE, linestyles="--", linewidth=1.3, zorder=1)
        sign = "" if gib is None else ("≥ " if gib else "≤ ")
        text = f"{label} {sign}{t:.2f}"
        right = (t - lo) > 0.55 * (hi - lo)
        ax.text(t, 1.0, f"{text} " if right else f" {text}", transform=ax.get_xaxis_transform(), color=LINE,
                fontsize=8, ha="right" if right else "left", va="bottom")


def _status_handles(statuses: Sequence[Any]) -> list[Any]:
    from matplotlib.lines import Line2D

    order = [s for s in ("FAIL", "REVIEW", "INSUFFICIENT", "ERROR", "PASS", None) if s in statuses]
    return [Line2D([], [], marker="o", linestyle="none", color=_colour(s), markersize=6, label=STATUS_LABELS[s])
            for s in order]


def _title(fig: Figure, text: str, height: float) -> None:
    fig.text(0.1 / WIDTH, 1 - 0.12 / height, _plain(text), ha="left", va="top", fontsize=10, fontweight="bold")


def disparity_forest_svg(rows: Sequence[Row], *, title: str, salt: str) -> str | None:
    """Every disparity measure of one grouping: point and interval, coloured by its finding's status,
    against the policy threshold; ratios and differences in two panels (their scales differ)."""
    import matplotlib

    panels = [(p, [r for r in rows if r.get("panel") == p]) for p in PANELS]
    panels = [(p, rs) for p, rs in panels if rs]
    if not panels:
        return None
    texts = {id(r): _numbers(r, 3) for _, rs in panels for r in rs}
    left = 0.25 + max(_text_width(_plain(r.get("label", "?")), 9) for _, rs in panels for r in rs)
    right = 0.15 + max(_text_width(t, 8) for t in texts.values())
    head, p_top, p_bottom, legend = 0.32, 0.42, 0.32, 0.36
    height = head + legend + sum(p_top + ROW * len(rs) + 0.15 + p_bottom for _, rs in panels)
    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH, height))
        y = height - head
        for panel, rs in panels:
            h = ROW * len(rs) + 0.15
            y -= p_top + h
            ax = _axes_at(fig, (left, y, WIDTH - left - right, h))
            y -= p_bottom
            tops = [hi for r in rs if (hi := _interval(r)[2]) is not None]
            lows = [lo for r in rs if (lo := _interval(r)[1]) is not None]
            limits = [t for r in rs if (t := _num(r.get("threshold"))) is not None]
            low = min([0.0, *lows])
            high = max([1.0, *tops, *limits]) * 1.04 if panel == "ratio" else max([*tops, *limits, 0.02]) * 1.15
            ax.set_xlim(low - 0.025 * (high - low), high)  # a point at 0 stays whole
            ax.axvline(1.0 if panel == "ratio" else 0.0, color=PARITY, linewidth=1, zorder=1)
            _forest_rows(ax, rs, [texts[id(r)] for r in rs])
            _thresholds(ax, rs)
            ax.set_title(PANELS[panel], loc="left", fontsize=9, pad=14, color="#333333")
        _title(fig, title, height)
        _legend(fig, 0.06, _status_handles([r.get("status") or None for r in rows]))
        return _to_svg(fig, f"{salt}/forest", f"Forest plot of the disparities: {title}")


def four_fifths_svg(rows: Sequence[Row], *, title: str, threshold: float | None, salt: str) -> str | None:
    """Each group's adverse impact ratio against the reference group, with its interval and the four-fifths
    line; filled points are significant after Holm's adjustment, hollow ones are not."""
    import matplotlib
    from matplotlib.lines import Line2D

    if not rows:
        return None
    ps = [_num(r.get("p_adjusted")) for r in rows]
    texts = [_numbers(r, 2, "" if p is None else f"Holm p {p:.3f}" if p >= 0.01 else f"Holm p {p:.2g}")
             for r, p in zip(rows, ps, strict=True)]
    left = 0.25 + max(_text_width(_plain(r.get("label", "?")), 9) for r in rows)
    right = 0.15 + max(_text_width(t, 8) for t in texts)
    head, p_top, p_bottom, legend = 0.32, 0.3, 0.5, 0.5
    h = ROW * len(rows) + 0.15
    height = head + p_top + h + p_bottom + legend
    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH, height))
        ax = _axes_at(fig, (left, legend + p_bottom, WIDTH - left - right, h))
        tops = [hi for r in rows if (hi := _interval(r)[2]) is not None]
        high = max([1.2, *tops, threshold or 0.0]) * 1.04
        ax.set_xlim(-0.025 * high, high)
        ax.axvline(1.0, color=PARITY, linewidth=1, zorder=1)
        _forest_rows(ax, rows, texts, filled=[bool(r.get("significant")) for r in rows])
        if threshold is not None:
            _thresholds(ax, [{"threshold": threshold, "greater_is_better": True}] * len(rows), "four-fifths threshold")
        ax.set_xlabel("adverse impact ratio: the group's selection rate ÷ the reference group's (1 = parity); "
                      "whiskers: 95% interval", fontsize=8)
        _title(fig, title, height)
        marks = [Line2D([], [], marker="o", linestyle="none", color="#333333", markersize=6,
                        label="significant after Holm adjustment"),
                 Line2D([], [], marker="o", linestyle="none", color="#333333", markerfacecolor="white",
                        markersize=6, label="not significant after Holm adjustment")]
        _legend(fig, 0.24, _status_handles([r.get("status") or None for r in rows]))
        _legend(fig, 0.04, marks)
        return _to_svg(fig, f"{salt}/four-fifths", f"Forest plot of the adverse impact ratios: {title}")


def reliability_svg(bins: Sequence[Row], *, title: str, salt: str) -> str | None:
    """A small reliability diagram per group: observed rate against mean score per bin, with the diagonal
    of perfect calibration."""
    import matplotlib

    groups = list(dict.fromkeys(str(b.get("group")) for b in bins))
    if not groups:
        return None
    ncols = min(5, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    side, wgap, hgap, left, head, foot = 1.3, 0.28, 0.62, 0.62, 0.8, 0.55
    width = max(left + ncols * side + (ncols - 1) * wgap + 0.15, _text_width(title, 10) + 0.3)
    height = head + nrows * side + (nrows - 1) * hgap + foot
    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height))
        for i, g in enumerate(groups):
            row, col = divmod(i, ncols)
            bottom = height - head - side - row * (side + hgap)
            ax = fig.add_axes(((left + col * (side + wgap)) / width, bottom / height, side / width, side / height))
            mine = [b for b in bins if str(b.get("group")) == g]
            ref = any(b.get("reference") for b in mine)
            colour = REFERENCE if ref else GROUP
            xs = [_num(b.get("mean_score")) or 0.0 for b in mine]
            ys = [_num(b.get("observed_rate")) or 0.0 for b in mine]
            lows = [lo if (lo := _num(b.get("observed_low"))) is not None else y for b, y in zip(mine, ys, strict=True)]
            highs = [hi if (hi := _num(b.get("observed_high"))) is not None else y
                     for b, y in zip(mine, ys, strict=True)]
            ax.plot([0, 1], [0, 1], color=PARITY, linestyle="--", linewidth=0.9)
            ax.vlines(xs, lows, highs, colors=colour, linewidth=1)
            ax.plot(xs, ys, "o-", color=colour, markersize=3.5, linewidth=1.2)
            ax.set_xlim(-0.03, 1.03)  # points at 0 and 1 stay whole
            ax.set_ylim(-0.03, 1.03)
            ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
            ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"])
            ax.tick_params(labelsize=7, labelleft=col == 0, labelbottom=i + ncols >= len(groups))
            if col == 0:
                ax.set_ylabel("observed positive rate", fontsize=7.5)
            if i + ncols >= len(groups):
                ax.set_xlabel("mean score in the bin", fontsize=7.5)
            ece = _num(mine[0].get("ece"))
            name = _plain(g) + (" (reference)" if ref else "")
            ax.set_title(name + (f"\nECE {ece:.3f}" if ece is not None else ""), fontsize=8)
        fig.text(0.1 / width, 1 - 0.12 / height, _plain(title), ha="left", va="top", fontsize=10, fontweight="bold")
        return _to_svg(fig, f"{salt}/reliability", title)


# ---------------------------------------------------------------------------------------------- degradation

# Okabe-Ito without its yellow, then Paul Tol's muted hues: distinct for up to 12 groups
SERIES = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#332288", "#882255", "#44aa99",
          "#999933", "#aa4499", "#6699cc")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "p", "*")
EVERYONE = "#1d2329"
ROBUSTNESS_METRICS = (("flip_rate", "decisions changed"), ("accuracy_drop", "accuracy drop (points)"))


def _grouping_title(grouping: str) -> str:
    return grouping.replace("_x_", " × ")


def _robustness_panel(ax: Axes, series: list[tuple[str, list[Row], str, str, bool]], severities: Sequence[str],
                      metric: str, judged: str | None, limit: float | None) -> None:
    """One metric against severity: a line per group, whiskers for its interval (dodged so they do not
    overlap), the judged severity shaded and the policy limit dashed."""
    from matplotlib.colors import to_rgba
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    xs = range(len(severities))
    spread = 0.22 if len(series) > 1 else 0.0
    values: list[float] = [0.0]
    whiskers: tuple[list[float], list[float], list[float], list[Any]] = ([], [], [], [])  # one collection, drawn once
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
        everyone = colour == EVERYONE
        whiskers[0].extend(x for x, _ in pts)
        whiskers[1].extend(lows)
        whiskers[2].extend(highs)
        whiskers[3].extend([to_rgba(colour, 0.55 if few else 0.85)] * len(pts))
        ax.plot([x for x, _ in pts], ys, marker=marker, color=colour, markersize=3.6 if not everyone else 4.2,
                linewidth=2.2 if everyone else 1.2, linestyle=":" if few else "-", alpha=0.55 if few else 1.0,
                markerfacecolor="white" if few else colour, zorder=4 if everyone else 3)
    if whiskers[0]:
        ax.vlines(whiskers[0], whiskers[1], whiskers[2], colors=whiskers[3], linewidth=0.9, zorder=2)
    if judged in severities:
        j = list(severities).index(judged)
        ax.axvspan(j - 0.4, j + 0.4, color="#eef1f4", zorder=0)
    if limit is not None:
        values.append(limit)
        ax.axhline(limit, color=LINE, linestyle="--", linewidth=1.1, zorder=1)
    low, high = min(values), max(values)
    pad = (high - low) * 0.12 or 0.01
    ax.set_ylim(min(0.0, low) - (pad if low < 0 else 0), high + pad)
    if limit is not None:
        unit = "%" if metric == "flip_rate" else " points"
        ax.text(-0.45, limit, f"policy limit {limit * 100:g}{unit}", color=LINE, fontsize=7, ha="left", va="bottom")
    if low < 0:
        ax.axhline(0, color=PARITY, linewidth=0.8, zorder=1)
    ax.set_xlim(-0.5, len(severities) - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    ticks = ax.get_yticks()
    step = abs(ticks[1] - ticks[0]) * 100 if len(ticks) > 1 else 1.0
    digits = 0 if step >= 0.999 else 1 if step >= 0.0999 else 2  # as many decimals as the tick step has

    def tick(v: float, _: Any) -> str:
        text = f"{v * 100:.{digits}f}" if metric == "flip_rate" else f"{v * 100:+.{digits}f}"
        if float(text) == 0:
            text = "0"
        return text + "%" if metric == "flip_rate" else text

    ax.yaxis.set_major_formatter(FuncFormatter(tick))
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=7.5)


def robustness_svg(rows: Sequence[Row], *, severities: Sequence[str], labels: Sequence[str], judged: str | None,
                   limits: Mapping[str, float | None], title: str, salt: str) -> str | None:
    """Robustness curves of one perturbation kind: for each grouping (a row of panels) the share of decisions
    that change and the accuracy drop against severity, one line per group and one for everyone, with
    interval whiskers; the judged severity is shaded and the policy's overall limit dashed."""
    import matplotlib
    from matplotlib.lines import Line2D

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
    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH, height))
        top = height - heads
        for g, h in zip(panels, heights, strict=True):
            top -= head
            bottom = top - h
            mine = [r for r in rows if str(r.get("grouping")) == g] if g != "all" else []
            names = list(dict.fromkeys(str(r.get("group")) for r in mine))
            series: list[tuple[str, list[Row], str, str, bool]] = []
            if everyone:
                series.append(("everyone", everyone, EVERYONE, "o", False))
            for i, name in enumerate(names):
                grows = [r for r in mine if str(r.get("group")) == name]
                few = any(r.get("insufficient") for r in grows)
                series.append((name, grows, SERIES[i % len(SERIES)], MARKERS[i % len(MARKERS)], few))
            for mi, (metric, label) in enumerate(ROBUSTNESS_METRICS):
                ax = _axes_at(fig, (left + mi * (side + gap), bottom, side, h))
                _robustness_panel(ax, series, severities, metric, judged, limits.get(metric))
                ticks = [lb.replace(" (", "\n(") for lb in labels]
                ax.set_xticks(range(len(severities)), [_plain(t) for t in ticks])
                what = "everyone" if g == "all" else f"by {_plain(_grouping_title(g))}"
                # a figure text, not ax.set_title: placing a title measures the whole axes
                fig.text((left + mi * (side + gap)) / WIDTH, (bottom + h + 0.06) / height, f"{label}, {what}",
                         ha="left", va="bottom", fontsize=8.5, color="#333333")
            handles = [Line2D([], [], color=c, marker=m, markersize=4, linewidth=2.2 if c == EVERYONE else 1.2,
                              linestyle=":" if few else "-", markerfacecolor="white" if few else c,
                              label=_plain(name) + (" (too few rows)" if few else ""))
                       for name, _, c, m, few in series]
            fig.legend(handles=handles, loc="upper left", frameon=False, fontsize=7.5, handlelength=1.8,
                       borderaxespad=0, labelspacing=0.35,
                       bbox_to_anchor=((left + 2 * side + gap + 0.25) / WIDTH, (bottom + h) / height))
            top = bottom - foot - vgap
        _title(fig, title, height)
        fig.text(0.1 / WIDTH, 1 - 0.36 / height,
                 "whiskers: 95% interval" + (f"; shaded: the judged severity ({_plain(judged)})" if judged else "")
                 + ("; dashed: the policy's limit for everyone" if any(v is not None for v in limits.values())
                    else "") + "; dotted: a group with too few rows to judge", ha="left", va="top", fontsize=7.5,
                 color="#5b6570")
        return _to_svg(fig, f"{salt}/robustness", title)


BAND_COLOURS = {"stable": "#56a0d3", "moderate": "#e69f00", "significant": "#b42318"}


def drift_svg(rows: Sequence[Row], *, moderate: float, significant: float, limit: float | None, title: str,
              salt: str) -> str | None:
    """PSI per feature as horizontal bars, largest first, with its interval, coloured by band, and the
    0.1 / 0.2 band lines and the policy limit."""
    import matplotlib
    from matplotlib.patches import Patch

    rows = [r for r in rows if _num(r.get("psi")) is not None]
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: -(_num(r.get("psi")) or 0.0))
    labels = [_plain(r.get("feature", "?")) for r in rows]
    texts = []
    for r in rows:
        lo, hi = _num(r.get("psi_low")), _num(r.get("psi_high"))
        texts.append(f"{_num(r.get('psi')):.3f}" + (f" [{lo:.3f}–{hi:.3f}]" if lo is not None and hi is not None
                                                    else "") + f"  {r.get('band') or ''}")
    left = 0.25 + max(_text_width(t, 9) for t in labels)
    right = 0.15 + max(_text_width(t, 8) for t in texts)
    head, top_gap, bottom_gap, legend = 0.32, 0.42, 0.5, 0.36
    h = ROW * len(rows) + 0.15
    height = head + top_gap + h + bottom_gap + legend
    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(WIDTH, height))
        ax = _axes_at(fig, (left, legend + bottom_gap, WIDTH - left - right, h))
        ys = list(range(len(rows)))
        values = [_num(r.get("psi")) or 0.0 for r in rows]
        errs = [_err({"v": v, "v_low": r.get("psi_low"), "v_high": r.get("psi_high")}, "v")
                for v, r in zip(values, rows, strict=True)]
        colours = [BAND_COLOURS.get(str(r.get("band")), NOT_JUDGED) for r in rows]
        ax.barh(ys, values, color=colours, height=0.6, xerr=[[e[0] for e in errs], [e[1] for e in errs]],
                error_kw={"ecolor": "#333333", "elinewidth": 0.9, "capsize": 2.5})
        lines = {moderate: f"moderate > {moderate:.2f}", significant: f"significant > {significant:.2f}"}
        if limit is not None:
            lines[limit] = (lines[limit] + " · policy limit") if limit in lines else f"policy limit {limit:.2f}"
        high = max([*(v + e[1] for v, e in zip(values, errs, strict=True)), *lines]) * 1.08
        ax.set_xlim(0, high)
        for i, (x, text) in enumerate(sorted(lines.items())):
            ax.axvline(x, color=LINE if x in (significant, limit) else "#c98a00", linestyle="--", linewidth=1.1,
                       zorder=1)
            ax.text(x, 1.0 + 0.07 * (i % 2), f" {text}", transform=ax.get_xaxis_transform(), fontsize=7.5,
                    color=LINE if x in (significant, limit) else "#8a5a00", ha="left", va="bottom")
        for y, text, r in zip(ys, texts, rows, strict=True):
            ax.text(1.015, y, text, transform=ax.get_yaxis_transform(), va="center", ha="left", fontsize=8,
                    color=BAND_COLOURS.get(str(r.get("band")), "#5b6570") if r.get("band") != "stable" else "#333333")
        ax.set_yticks(ys, labels)
        ax.set_ylim(len(rows) - 0.45, -0.55)
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel("population stability index (PSI) between the reference data and the current sample; "
                      "whiskers: 95% interval", fontsize=8)
        _title(fig, title, height)
        present = [b for b in BAND_COLOURS if any(str(r.get("band")) == b for r in rows)]
        _legend(fig, 0.06, [Patch(color=BAND_COLOURS[b], label=b) for b in present])
        return _to_svg(fig, f"{salt}/drift", f"Drift chart: {title}")
