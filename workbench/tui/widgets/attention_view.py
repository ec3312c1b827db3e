"""Attention heatmaps of one layer: one head, or all heads side by side; scrolls when large."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.attention_maps import AttentionMaps, render


class AttentionView(VerticalScroll):
    can_focus = False  # the screen's keys (arrows, [ ]) drive it

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shown: AttentionMaps | None = None
        self.layer_at = 0
        self.head_at: int | None = 0  # None: all heads
        self.note = ""

    def compose(self):
        yield Static(id="attn-maps")

    def say(self, text: str) -> None:
        self.note = text
        self.redraw()

    def show(self, maps: AttentionMaps | None, layer: int, head: int | None) -> None:
        self.shown, self.layer_at, self.head_at, self.note = maps, layer, head, ""
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        static = self.query_one("#attn-maps", Static)
        if self.note or self.shown is None:
            static.update(Text(self.note or "no maps yet", style="italic"))
            return
        heads = list(range(self.shown.n_head)) if self.head_at is None else [self.head_at]
        width = max(20, self.scrollable_content_region.width)
        static.update(render([self.shown], width, layers=[self.layer_at], heads=heads, standalone=False))
