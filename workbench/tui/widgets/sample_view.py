"""Rolling sample text: the latest sample, ←/→ to step back to earlier ones."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static


class SampleView(VerticalScroll):
    can_focus = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.samples: list = []  # workbench.metrics.Sample, by step
        self.index: int | None = None  # None follows the newest
        self.border_title = "Sample"

    def compose(self):
        yield Static("no sample yet", id="sample-text", markup=False)

    def expect(self, interval: int | None) -> None:
        """Say when the first sample comes (sample.interval), instead of a bare 'no sample yet'."""
        if self.samples or interval is None:
            return
        if interval > 0:
            text = f"first sample at step {interval}"
        elif interval == 0:
            text = "one sample at the end of the run (sample.interval = 0)"
        else:
            text = "samples are off (sample.interval < 0)"
        self.query_one("#sample-text", Static).update(text)

    def add(self, samples: list) -> None:
        if not samples:
            return
        self.samples.extend(samples)
        self.samples.sort(key=lambda s: (s.step, s.id))
        self.redraw()

    def older(self) -> None:
        if self.samples:
            i = len(self.samples) - 1 if self.index is None else self.index
            self.index = max(0, i - 1)
            self.redraw()

    def newer(self) -> None:
        if self.samples and self.index is not None:
            self.index = self.index + 1
            if self.index >= len(self.samples) - 1:
                self.index = None
            self.redraw()

    def redraw(self) -> None:
        if not self.samples:
            return
        i = len(self.samples) - 1 if self.index is None else self.index
        s = self.samples[i]
        where = "latest" if self.index is None else f"{i + 1}/{len(self.samples)}"
        self.border_title = f"Sample @ step {s.step} · {where} · ←/→"
        self.query_one("#sample-text", Static).update(s.prompt.lstrip("\n") + s.text)
        self.scroll_home(animate=False)
