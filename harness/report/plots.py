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


def _num(x: Any) -> float | None:
    """A finite float, or None for missing, NaN or non-numeric values (a rate can be undefined)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


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


def _figure(n_bars: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(8.0, 1.35 + 0.3 * max(n_bars, 1)), layout="constrained")


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
        fig = _figure(len(rows))
        ax = fig.subplots()
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
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=8)
        return _to_svg(fig, f"{salt}/selection", f"Selection rate by group: {title}")


def error_rates_svg(rows: Sequence[Row], *, title: str, salt: str) -> str | None:
    """True- and false-positive rate of each group with intervals; None when no group has either."""
    import matplotlib
    from matplotlib.patches import Patch

    if not any(_num(r.get(m)) is not None for r in rows for m in ("tpr", "fpr")):
        return None
    with matplotlib.rc_context(_RC):
        fig = _figure(int(len(rows) * 1.6))
        ax = fig.subplots()
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
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=8)
        return _to_svg(fig, f"{salt}/errors", f"True- and false-positive rates by group: {title}")
