"""Attention maps as data and as terminal heatmaps (rich). No torch: the TUI draws them too.

A map is one layer's and one head's (query, key) weights for a prompt: row i is what
token i attends to, it sums to 1, and keys after i are masked (drawn blank). Every panel
uses the same fixed 0..1 colour scale, so panels side by side compare directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rich.cells import cell_len, set_cell_size
from rich.columns import Columns
from rich.console import Group
from rich.style import Style
from rich.text import Text

# viridis at ten even steps: dark purple (near 0) to yellow (1); the masked half stays blank
PALETTE = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e",
           "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725")
VISIBLE = {"\n": "⏎", " ": "␣", "\t": "⇥"}
LABEL_MAX = 6  # cells for a row's token label
TITLE_MAX = 24  # a panel narrower than its title widens to show this much of it
DEFAULT_PROMPT = "To be, or not to be"  # 19 characters: small enough to read as a heatmap


@dataclass
class AttentionMaps:
    """One checkpoint's attention for one prompt; maps[i][j] is layer layers[i], head heads[j]."""

    run: str
    checkpoint: str  # init, step-0000500, best, last
    step: int | None  # the training step the weights are from, when the checkpoint says
    tokens: list[str]  # the prompt's tokens, decoded one by one
    n_layer: int
    n_head: int
    layers: list[int]
    heads: list[int]
    maps: list[list[list[list[float]]]]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AttentionMaps:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})

    @property
    def label(self) -> str:
        if self.checkpoint == "init":
            return "init (untrained)"
        if self.checkpoint.startswith("step-"):
            return f"step {int(self.checkpoint[5:])}"
        return self.checkpoint + (f" @ step {self.step}" if self.step is not None else "")

    def matrix(self, layer: int, head: int) -> list[list[float]]:
        return self.maps[self.layers.index(layer)][self.heads.index(head)]


def colour(v: float) -> str:
    return PALETTE[min(len(PALETTE) - 1, max(0, int(v * len(PALETTE))))]


def token_label(token: str) -> str:
    return "".join(VISIBLE.get(c, c if c.isprintable() else "·") for c in token) or "·"


def fit(text: str, width: int, right: bool = False) -> str:
    """text cropped (with …) or padded to exactly `width` cells."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


def panel_width(n_tokens: int, cell: int, labels_width: int) -> int:
    return labels_width + 1 + n_tokens * cell


def heatmap(matrix: list[list[float]], tokens: list[str], title: list[str], cell: int = 2) -> Text:
    """One map: its title lines, the key tokens across the top, one row per query token."""
    labels = [token_label(t) for t in tokens]
    lw = min(LABEL_MAX, max(cell_len(x) for x in labels))
    width = max(panel_width(len(tokens), cell, lw), min(TITLE_MAX, max(cell_len(t) for t in title)))
    text = Text(no_wrap=True, overflow="crop")
    for line in title:
        text.append(fit(line, width) + "\n", style="bold")
    text.append(" " * (lw + 1) + "".join(fit(x, cell) for x in labels), style="dim")
    for i, row in enumerate(matrix):
        text.append("\n" + fit(labels[i], lw, right=True) + " ", style="dim")
        for j in range(len(tokens)):
            style = Style(bgcolor=colour(row[j])) if j <= i else None
            text.append(" " * cell, style=style)
    return text


def legend(note: bool = True) -> Text:
    """The colour scale, 0 to 1, and (with `note`) how to read a map."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("0 ", style="dim")
    for c in PALETTE:
        text.append("  ", style=Style(bgcolor=c))
    text.append(" 1")
    if note:
        text.append("  row: a query token, sums to 1 · blank: future keys (masked)", style="dim")
    return text


def panels(sources: list[AttentionMaps], cell: int = 2, layers: list[int] | None = None,
           heads: list[int] | None = None, titled: bool = True) -> list[Text]:
    """A panel per source, layer and head (by default the ones each source holds). Titles name
    the run (when there are several), the checkpoint (unless not `titled`), layer and head."""
    several_runs = len({s.run for s in sources}) > 1
    out = []
    for s in sources:
        source = ([s.run] if several_runs else []) + ([s.label] if titled else [])
        for layer in layers if layers is not None else s.layers:
            for head in heads if heads is not None else s.heads:
                title = source + [f"layer {layer} · head {head}"]
                out.append(heatmap(s.matrix(layer, head), s.tokens, title, cell))
    return out


def choose_cell(sources: list[AttentionMaps], width: int, per_row: int) -> int:
    """Two cells per token when `per_row` panels fit side by side in `width`, else one."""
    n = max(len(s.tokens) for s in sources)
    lw = max(min(LABEL_MAX, max(cell_len(token_label(t)) for t in s.tokens)) for s in sources)
    return 2 if per_row * (panel_width(n, 2, lw) + 3) <= width else 1


def render(sources: list[AttentionMaps], width: int, layers: list[int] | None = None,
           heads: list[int] | None = None, standalone: bool = True) -> Group | Columns:
    """The panels side by side (wrapping at `width`) and, `standalone`, each titled with its
    checkpoint and the colour scale below (the TUI shows both in its own header)."""
    shown = len(heads if heads is not None else sources[0].heads) * max(1, len(sources))
    cell = choose_cell(sources, width, min(shown, 2))
    grid = Columns(panels(sources, cell, layers, heads, titled=standalone), padding=(1, 3))
    return Group(grid, Text(""), legend()) if standalone else grid
