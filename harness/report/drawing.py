"""A small SVG drawing kit for the report's plots: a figure measured in inches like a printed page, axes that
map data to it, and the few marks the plots use (bars, whiskers, points, lines, text, legends).

Why not matplotlib: it took 2.5-5 s to import and lay out the figures of one report (issue 13, section 5),
while every figure here is a handful of rectangles, lines and labels placed from numbers the report already
has. Writing the SVG directly takes milliseconds, needs no font cache or backend, and the output is plain,
deterministic text: no ids (so many SVGs can share one HTML page), no metadata, text kept as text.
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

PT = 72.0  # SVG user units per inch (points, as matplotlib's SVG backend uses)
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"
AXIS = "#000000"
TICK_TEXT = "#000000"
GRID = "#e5e5e5"


def n(v: float) -> str:
    """A coordinate: two decimals, no trailing zeros, no '-0'."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def esc(text: object, *, quote: bool = True) -> str:
    """Escaped for SVG: `quote` for attribute values; text content keeps its apostrophes readable."""
    return html.escape(str(text), quote=quote)


def text_width(text: str, points: float) -> float:
    """Roughly how wide `text` is, in inches (about 0.55 em a character in DejaVu Sans or Arial)."""
    return len(text) * points * 0.55 / 72


def nice_ticks(lo: float, hi: float, nbins: int, steps: Sequence[float] = (1, 2, 2.5, 5, 10)) -> list[float]:
    """Round tick values covering [lo, hi], at most about `nbins` intervals (matplotlib's MaxNLocator rule)."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return [lo]
    raw = span / nbins
    mag = 10 ** math.floor(math.log10(raw))
    step = next((s * mag for s in steps if s * mag >= raw * (1 - 1e-9)), steps[-1] * mag)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 12) + 0.0 for i in range(first, last + 1)]


def tick_decimals(ticks: Sequence[float]) -> int:
    """As many decimals as the step between ticks has (0.25 -> 2, 0.2 -> 1, 5 -> 0)."""
    if len(ticks) < 2:
        return 1
    step = abs(ticks[1] - ticks[0])
    for d in range(6):
        if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-6:
            return d
    return 6


class Figure:
    """A drawing `width` x `height` inches; positions given in inches from the lower left, as on paper."""

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.parts: list[str] = []

    def x(self, inches: float) -> float:
        return inches * PT

    def y(self, inches: float) -> float:
        return (self.height - inches) * PT

    # ------------------------------------------------------------------ marks, in SVG units (points from top left)

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1.0, *,
             dash: str | None = None, opacity: float | None = None) -> None:
        extra = (f' stroke-dasharray="{dash}"' if dash else "") + (
            f' stroke-opacity="{n(opacity)}"' if opacity is not None and opacity < 1 else "")
        self.parts.append(f'<line x1="{n(x1)}" y1="{n(y1)}" x2="{n(x2)}" y2="{n(y2)}" stroke="{colour}" '
                          f'stroke-width="{n(width)}"{extra}/>')

    def polyline(self, points: Sequence[tuple[float, float]], colour: str, width: float, *, dash: str | None = None,
                 opacity: float | None = None) -> None:
        pts = " ".join(f"{n(x)},{n(y)}" for x, y in points)
        extra = (f' stroke-dasharray="{dash}"' if dash else "") + (
            f' stroke-opacity="{n(opacity)}"' if opacity is not None and opacity < 1 else "")
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{n(width)}" '
                          f'stroke-linejoin="round"{extra}/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, *, opacity: float | None = None,
             data: str = "") -> None:
        extra = f' fill-opacity="{n(opacity)}"' if opacity is not None and opacity < 1 else ""
        self.parts.append(f'<rect x="{n(x)}" y="{n(y)}" width="{n(max(w, 0.0))}" height="{n(max(h, 0.0))}" '
                          f'fill="{fill}"{extra}{data}/>')

    def marker(self, kind: str, x: float, y: float, size: float, face: str, edge: str, width: float = 1.0, *,
               opacity: float | None = None) -> None:
        """A marker `size` points across, matplotlib's names: o s ^ v < > D P X h p * and | (a vertical tick)."""
        r = size / 2
        style = f"fill: {face}; stroke: {edge}; stroke-width: {n(width)}" + (
            f"; opacity: {n(opacity)}" if opacity is not None and opacity < 1 else "")
        if kind == "o":
            self.parts.append(f'<circle cx="{n(x)}" cy="{n(y)}" r="{n(r)}" style="{style}"/>')
            return
        if kind == "|":
            self.line(x, y - r, x, y + r, edge, width)
            return
        shapes: dict[str, list[tuple[float, float]]] = {
            "s": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
            "^": [(0, -1), (1, 1), (-1, 1)],
            "v": [(0, 1), (1, -1), (-1, -1)],
            "<": [(-1, 0), (1, -1), (1, 1)],
            ">": [(1, 0), (-1, -1), (-1, 1)],
            "D": [(0, -1.2), (1.2, 0), (0, 1.2), (-1.2, 0)],
            "P": [(-0.33, -1), (0.33, -1), (0.33, -0.33), (1, -0.33), (1, 0.33), (0.33, 0.33), (0.33, 1),
                  (-0.33, 1), (-0.33, 0.33), (-1, 0.33), (-1, -0.33), (-0.33, -0.33)],
            "X": [(-1, -0.6), (-0.6, -1), (0, -0.4), (0.6, -1), (1, -0.6), (0.4, 0), (1, 0.6), (0.6, 1), (0, 0.4),
                  (-0.6, 1), (-1, 0.6), (-0.4, 0)],
            "h": [(math.cos(a), math.sin(a)) for a in (math.pi / 6 + k * math.pi / 3 for k in range(6))],
            "p": [(math.cos(a), math.sin(a)) for a in (-math.pi / 2 + k * 2 * math.pi / 5 for k in range(5))],
            "*": [(math.cos(a) * (1 if k % 2 == 0 else 0.45), math.sin(a) * (1 if k % 2 == 0 else 0.45))
                  for k, a in enumerate(-math.pi / 2 + k * math.pi / 5 for k in range(10))],
        }
        pts = " ".join(f"{n(x + dx * r)},{n(y + dy * r)}" for dx, dy in shapes.get(kind, shapes["s"]))
        self.parts.append(f'<polygon points="{pts}" style="{style}"/>')

    def dot(self, x: float, y: float, r: float, colour: str) -> None:
        """A filled circle drawn with presentation attributes, which every SVG renderer reads (WeasyPrint, which
        prints the memo's PDF, ignores `style` on shapes)."""
        self.parts.append(f'<circle cx="{n(x)}" cy="{n(y)}" r="{n(r)}" fill="{colour}"/>')

    def text(self, x: float, y: float, content: str, *, size: float = 9, colour: str = "#000000",
             anchor: str = "start", va: str = "baseline", bold: bool = False, rotate: bool = False) -> None:
        """`va`: baseline, center, top or bottom (bottom: the text sits on y, descenders included)."""
        dy = {"baseline": 0.0, "center": 0.35 * size, "top": 0.8 * size, "bottom": -0.22 * size}[va]
        attrs = f'x="{n(x)}" y="{n(y + (0 if rotate else dy))}"'
        if rotate:  # read bottom to top, centred on (x, y)
            attrs = f'transform="translate({n(x + dy)} {n(y)}) rotate(-90)"'
        weight = ' font-weight="bold"' if bold else ""
        anchor_attr = f' text-anchor="{anchor}"' if anchor != "start" else ""
        fill = f' fill="{colour}"' if colour != "#000000" else ""
        body = esc(content, quote=False)
        self.parts.append(f'<text {attrs} font-size="{n(size)}"{anchor_attr}{weight}{fill}>{body}</text>')

    # ------------------------------------------------------------------ layout helpers, in inches

    def title(self, content: str, *, size: float = 10) -> None:
        """The figure's bold title, top left."""
        self.text(self.x(0.1), self.y(self.height - 0.12), content, size=size, bold=True, va="top")

    def axes(self, box: tuple[float, float, float, float], xlim: tuple[float, float],
             ylim: tuple[float, float]) -> Axes:
        """Axes at (left, bottom, width, height) inches; `ylim` is (value at the bottom edge, value at the top)."""
        return Axes(self, box, xlim, ylim)

    def legend_row(self, bottom: float, entries: Sequence[tuple[Callable[[float, float], None], str]], *,
                   size: float = 8) -> None:
        """Entries (a function drawing the handle centred at (x, y), label) in one row centred `bottom` inches
        above the lower edge."""
        if not entries:
            return
        handle, pad, gap = 14.0, 4.0, 1.4 * size
        widths = [handle + pad + text_width(label, size) * PT for _, label in entries]
        x = self.x(self.width / 2) - (sum(widths) + gap * (len(entries) - 1)) / 2
        y = self.y(bottom) - 0.6 * size
        for (draw, label), w in zip(entries, widths, strict=True):
            draw(x + handle / 2, y)
            self.text(x + handle + pad, y, label, size=size, va="center")
            x += w + gap

    def legend_column(self, left: float, top: float, entries: Sequence[tuple[Callable[[float, float], None], str]],
                      *, size: float = 7.5, spacing: float = 0.35) -> None:
        """Entries listed downwards from (left, top) inches."""
        y = self.y(top) + 0.6 * size
        for draw, label in entries:
            draw(self.x(left) + 9, y)
            self.text(self.x(left) + 22, y, label, size=size, va="center")
            y += size * (1 + spacing) + 2

    def patch(self, colour: str) -> Callable[[float, float], None]:
        return lambda x, y: self.rect(x - 7, y - 3.5, 14, 7, colour)

    def point(self, colour: str, face: str | None = None, size: float = 6) -> Callable[[float, float], None]:
        return lambda x, y: self.marker("o", x, y, size, face or colour, colour, 1.0)

    def line_handle(self, colour: str, marker: str, *, width: float, dotted: bool, face: str,
                    size: float = 4) -> Callable[[float, float], None]:
        def draw(x: float, y: float) -> None:
            self.line(x - 9, y, x + 9, y, colour, width, dash="1.5,2" if dotted else None)
            self.marker(marker, x, y, size, face, colour, 1.0)
        return draw

    def svg(self, description: str) -> str:
        w, h = n(self.width * PT), n(self.height * PT)
        head = (f'<svg role="img" aria-label="{esc(description)}" xmlns="http://www.w3.org/2000/svg" width="{w}pt" '
                f'height="{h}pt" viewBox="0 0 {w} {h}" font-family="{FONT}" font-size="9">')
        return "\n".join([head, f'<rect width="{w}" height="{h}" fill="#ffffff"/>', *self.parts, "</svg>"]) + "\n"


class Axes:
    """A plotting area of a Figure: data coordinates to SVG units, spines, ticks and grid lines."""

    def __init__(self, fig: Figure, box: tuple[float, float, float, float], xlim: tuple[float, float],
                 ylim: tuple[float, float]) -> None:
        left, bottom, width, height = box
        self.fig = fig
        self.left, self.right = fig.x(left), fig.x(left + width)
        self.top, self.bottom = fig.y(bottom + height), fig.y(bottom)
        self.xlim, self.ylim = xlim, ylim

    def px(self, x: float) -> float:
        x0, x1 = self.xlim
        return self.left + (x - x0) / ((x1 - x0) or 1.0) * (self.right - self.left)

    def py(self, y: float) -> float:
        y0, y1 = self.ylim
        return self.bottom - (y - y0) / ((y1 - y0) or 1.0) * (self.bottom - self.top)

    def spines(self) -> None:
        """The left and bottom edges (the top and right are left open)."""
        self.fig.line(self.left, self.top, self.left, self.bottom, AXIS, 0.8)
        self.fig.line(self.left, self.bottom, self.right, self.bottom, AXIS, 0.8)

    def xticks(self, ticks: Sequence[float], labels: Sequence[str], *, size: float = 9, grid: bool = False,
               length: float = 3.5) -> None:
        for t, label in zip(ticks, labels, strict=True):
            x = self.px(t)
            if grid:
                self.fig.line(x, self.top, x, self.bottom, GRID, 0.6)
            self.fig.line(x, self.bottom, x, self.bottom + length, AXIS, 0.8)
            for i, part in enumerate(label.split("\n")):
                self.fig.text(x, self.bottom + length + 2 + i * size * 1.2, part, size=size, anchor="middle",
                              va="top")

    def yticks(self, ticks: Sequence[float], labels: Sequence[str], *, size: float = 9, grid: bool = False,
               length: float = 3.5) -> None:
        for t, label in zip(ticks, labels, strict=True):
            y = self.py(t)
            if grid:
                self.fig.line(self.left, y, self.right, y, GRID, 0.6)
            if length:
                self.fig.line(self.left - length, y, self.left, y, AXIS, 0.8)
            if label:
                self.fig.text(self.left - length - 3.5, y, label, size=size, anchor="end", va="center")

    def xlabel(self, content: str, *, size: float = 9, below: float = 21) -> None:
        self.fig.text((self.left + self.right) / 2, self.bottom + below, content, size=size, anchor="middle",
                      va="top")

    def ylabel(self, content: str, *, size: float = 9, left: float = 24) -> None:
        self.fig.text(self.left - left, (self.top + self.bottom) / 2, content, size=size, anchor="middle",
                      va="center", rotate=True)

    def xgrid(self, ticks: Sequence[float]) -> None:
        for t in ticks:
            self.fig.line(self.px(t), self.top, self.px(t), self.bottom, GRID, 0.6)

    def hbar(self, y: float, value: float, height: float, colour: str, *, opacity: float | None = None,
             label: str = "") -> None:
        """A horizontal bar from 0 to `value` centred on row `y` (`height` in row units)."""
        top, bottom = self.py(y - height / 2), self.py(y + height / 2)
        x0, x1 = self.px(0.0), self.px(value)
        data = f' data-value="{esc(label)}"' if label else ""
        self.fig.rect(min(x0, x1), min(top, bottom), abs(x1 - x0), abs(bottom - top), colour, opacity=opacity,
                      data=data)

    def xerr(self, y: float, low: float, high: float, *, colour: str = "#333333", width: float = 1.0,
             cap: float = 3.0) -> None:
        """A horizontal whisker from `low` to `high` on row `y`, with caps `cap` points long each way."""
        if high <= low:
            return
        py = self.py(y)
        self.fig.line(self.px(low), py, self.px(high), py, colour, width)
        for x in (low, high):
            self.fig.line(self.px(x), py - cap, self.px(x), py + cap, colour, width)

    def vline(self, x: float, colour: str, width: float, *, dash: str | None = None, y0: float | None = None,
              y1: float | None = None) -> None:
        """A vertical line at data x across the axes, or from data y0 to y1."""
        top = self.top if y0 is None else self.py(y0)
        bottom = self.bottom if y1 is None else self.py(y1)
        self.fig.line(self.px(x), top, self.px(x), bottom, colour, width, dash=dash)

    def hline(self, y: float, colour: str, width: float, *, dash: str | None = None) -> None:
        self.fig.line(self.left, self.py(y), self.right, self.py(y), colour, width, dash=dash)
