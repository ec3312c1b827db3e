"""One chart: a few series with plotext, smoothed or raw, on round ticks, the legend in the border.

`set_curves` only stores the data and redraws; plotext builds the whole plot, so the
caller passes downsampled series and calls it only when points arrived. With smoothing
on, each curve's raw points are drawn faint and its EMA (computed on the raw points by
the poller) over them; a baseline curve is drawn last, on top of the others.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from rich.markup import escape
from textual_plotext import PlotextPlot

from workbench.tui import axes
from workbench.tui.colors import FAINT, PLOTEXT, RICH
from workbench.tui.groups import value_at

X_LABELS = {"step": "step", "tokens": "tokens", "time": "time"}

Points = list[tuple[float, float]]


class Curve(NamedTuple):
    label: str
    points: Points              # raw, downsampled (min and max of each bucket)
    smooth: Points | None = None  # EMA of the raw points, or None when smoothing is off
    color: int = 0              # palette index (workbench.tui.colors)
    baseline: bool = False      # drawn last, named first
    band: tuple[Points, Points] | None = None  # a group's (min, max) around its mean, drawn faint
    faint: bool = False         # context, drawn faint beneath the rest (a fork's parent run)


class MetricChart(PlotextPlot):
    can_focus = True  # on a grid, `m` changes the focused chart

    def __init__(self, title: str = "Loss", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.curves: list[Curve] = []
        self.x = "step"
        self.logy = False
        self.logx = False
        self.yzero = False
        self.smoothing = 0.0
        self.empty_text = "waiting for the first step…"
        self._update_title()

    def set_curves(self, curves: list[Curve], x: str | None = None, title: str | None = None) -> None:
        self.curves = curves
        if x is not None:
            self.x = x
        if title is not None:
            self.title = title
        self.replot()

    def toggle(self, option: str) -> None:
        """Flip "logy", "logx" or "yzero" and draw again (ChartGrid.toggle does it for its charts)."""
        setattr(self, option, not getattr(self, option))
        self.replot()

    def _update_title(self) -> None:
        """The legend lives in the border, so it never covers data; it names the curves drawn."""
        legend = []
        named = len(self.curves) > 1 or any(c.baseline or c.label != self.title for c in self.curves)
        drawn = [c for c in sorted(self.curves, key=lambda c: not c.baseline) if c.points]
        for c in drawn if named else []:
            name = f"{c.label} (baseline)" if c.baseline else c.label
            entry = f"[dim]┄ {escape(name)}[/]" if c.faint else f"[{RICH[c.color % len(RICH)]}]━ {escape(name)}[/]"
            if entry not in legend:  # faint curves of one chart share their name
                legend.append(entry)
        self.border_title = escape(self.title) + ("  " + " ".join(legend) if legend else "")
        opts = [f"x: {X_LABELS.get(self.x, self.x)}"]
        opts += [o for o, on in (("log x", self.logx), ("log y", self.logy), ("y from 0", self.yzero)) if on]
        if self.smoothing:
            opts.append(f"smooth {self.smoothing:.2f}")
        self.border_subtitle = " · ".join(opts)

    def render(self):
        """As PlotextPlot.render, but sized to the content box (inside the border and padding)."""
        from rich.text import Text

        w, h = self.content_size.width, self.content_size.height
        self._plot.plotsize(w, h)
        self._plot._set_size(w, h)
        self._plot.theme(self._get_plotext_theme_name(self.app.theme))
        return Text.from_ansi(self._plot.build())

    def _shown(self, pts: Points) -> Points:
        """Finite points the axes can show, in the axes' units (log10 where an axis is log)."""
        out = []
        for x, y in pts:
            if not (math.isfinite(x) and math.isfinite(y)) or (self.logy and y <= 0) or (self.logx and x <= 0):
                continue
            out.append((math.log10(x) if self.logx else x, math.log10(y) if self.logy else y))
        return out

    def _zigzag(self, lo: Points, hi: Points) -> Points:
        """A band as one line going from min to max and back at two x positions per column:
        dense, it fills the band."""
        lo, hi = self._shown(lo), self._shown(hi)
        if len(lo) < 2 or len(hi) < 2:
            return []
        x0, x1 = max(lo[0][0], hi[0][0]), min(lo[-1][0], hi[-1][0])
        n = 2 * max(10, self.content_size.width or 60)
        out = []
        for i in range(n + 1):
            x = x0 + (x1 - x0) * i / n
            a, b = value_at(lo, x), value_at(hi, x)
            if a is not None and b is not None:
                out += [(x, a), (x, b)] if i % 2 == 0 else [(x, b), (x, a)]
        return out

    def replot(self) -> None:
        self._update_title()
        plt = self.plt
        plt.clear_figure()
        plt.title("")
        layers = []  # (points, colour name): faint raw first, then the curves, the baseline last
        for c in sorted(self.curves, key=lambda c: c.baseline):
            color = PLOTEXT[c.color % len(PLOTEXT)]
            if c.faint:
                layers.insert(0, (self._shown(c.points), FAINT))
                continue
            if c.band is not None:
                layers.insert(0, (self._zigzag(*c.band), FAINT))
            if c.smooth is not None:
                layers.insert(0, (self._shown(c.points), FAINT))
                layers.append((self._shown(c.smooth), color))
            else:
                layers.append((self._shown(c.points), color))
        xs_all, ys_all = [], []
        for pts, color in layers:
            if not pts:
                continue
            xs, ys = zip(*pts)
            xs_all += xs
            ys_all += ys
            if len(pts) == 1:
                plt.scatter(xs, ys, color=color, marker="dot")
            else:
                plt.plot(xs, ys, color=color, marker="braille")
        if not xs_all:
            plt.title(self.empty_text)
            self.refresh()
            return
        self._ticks(min(xs_all), max(xs_all), min(ys_all), max(ys_all))
        self.refresh()

    def _ticks(self, x0: float, x1: float, y0: float, y1: float) -> None:
        plt = self.plt
        if self.yzero and not self.logy:
            y0, y1 = min(0.0, y0), max(0.0, y1)
            plt.ylim(y0, y1)
        xpos, xlab = axes.x_ticks(x0, x1, self.x, n=max(2, (self.content_size.width or 60) // 14),
                                  log=self.logx)
        ypos, ylab = axes.y_ticks(y0, y1, n=max(3, (self.content_size.height or 12) // 3), log=self.logy)
        if xpos:
            plt.xticks(xpos, xlab)
        if ypos:
            plt.yticks(ypos, ylab)
