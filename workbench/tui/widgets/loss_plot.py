"""Loss curves with plotext: train and val of one run, or val (else train) of several runs.

`set_curves` only stores the data and asks for a redraw; plotext builds the whole
plot, so the caller passes downsampled series and calls it only when points arrived.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

X_LABELS = {"step": "step", "tokens": "tokens", "time": "seconds"}
COLORS = ["cyan", "orange", "green", "magenta", "yellow", "red", "blue", "white"]  # plotext names
RICH_COLORS = ["cyan", "dark_orange", "green", "magenta", "yellow", "red", "blue", "white"]  # the same, for rich


class LossPlot(PlotextPlot):
    def __init__(self, title: str = "Loss", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.curves: list[tuple[str, list[tuple[float, float]]]] = []
        self.x = "step"
        self.logy = False
        self.empty_text = "waiting for the first step…"
        self._update_title()

    def set_curves(self, curves: list[tuple[str, list[tuple[float, float]]]], x: str | None = None) -> None:
        self.curves = curves
        if x is not None:
            self.x = x
        self.replot()

    def toggle_log(self) -> None:
        self.logy = not self.logy
        self.replot()

    def _update_title(self) -> None:
        self.border_title = f"{self.title} · x: {X_LABELS.get(self.x, self.x)}{' · log y' if self.logy else ''}"

    def render(self):
        """As PlotextPlot.render, but sized to the content box (inside the border and padding)."""
        from rich.text import Text

        w, h = self.content_size.width, self.content_size.height
        self._plot.plotsize(w, h)
        self._plot._set_size(w, h)
        self._plot.theme(self._get_plotext_theme_name(self.app.theme))
        return Text.from_ansi(self._plot.build())

    def replot(self) -> None:
        self._update_title()
        plt = self.plt
        plt.clear_figure()  # also forgets log-y tick labels
        plt.title("")
        drawn = 0
        lo, hi = math.inf, -math.inf
        for i, (label, pts) in enumerate(self.curves):
            pts = [(x, y) for x, y in pts if math.isfinite(y) and (y > 0 or not self.logy)]
            if not pts:
                continue
            xs, ys = zip(*pts)
            if self.logy:  # plotext's own log scale breaks with legends: plot log10 and label the ticks
                ys = tuple(math.log10(y) for y in ys)
            lo, hi = min(lo, *ys), max(hi, *ys)
            color = COLORS[i % len(COLORS)]
            if len(pts) == 1:
                plt.scatter(xs, ys, label=label, color=color, marker="dot")
            else:
                plt.plot(xs, ys, label=label, color=color, marker="braille")
            drawn += 1
        if self.logy and drawn:
            ticks = [lo + (hi - lo) * k / 4 for k in range(5)] if hi > lo else [lo]
            plt.yticks(ticks, [f"{10 ** v:.3g}" for v in ticks])
        plt.xlabel(X_LABELS.get(self.x, self.x))
        if not drawn:
            plt.title(self.empty_text)
        self.refresh()
