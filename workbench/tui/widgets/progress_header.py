"""The dashboard's top line: run, status, step/max with a bar, ETA, tok/s, MFU."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench.formatting import STATUS_COLOR, STATUS_SYMBOL, fmt_duration, fmt_rate, fmt_steps


class ProgressHeader(Static):
    def __init__(self, run_id: str, **kwargs) -> None:
        super().__init__(run_id, **kwargs)
        self.run_id = run_id
        self.status = "running"
        self.reason = ""
        self.step = 0
        self.max_steps: int | None = None
        self.eta: float | None = None
        self.tok_s: float | None = None
        self.mfu: float | None = None
        self.waiting = True

    def set_state(self, *, status: str, reason: str, step: int, max_steps: int | None, eta: float | None,
                  tok_s: float | None, mfu: float | None, waiting: bool) -> None:
        self.status, self.reason, self.step, self.max_steps = status, reason, step, max_steps
        self.eta, self.tok_s, self.mfu, self.waiting = eta, tok_s, mfu, waiting
        self.update(self.build())

    def on_resize(self) -> None:
        self.update(self.build())

    def build(self) -> Text:
        width = self.content_size.width or 80
        t = Text(no_wrap=True, overflow="ellipsis")
        color = STATUS_COLOR.get(self.status, "white")
        t.append(f"{self.run_id} ", style="bold")
        t.append(f"{STATUS_SYMBOL.get(self.status, '?')} {self.status} ", style=f"bold {color}")
        right = []
        if self.status == "running" and self.waiting:
            right.append(("waiting for the first step…", "italic"))
        else:
            if self.status == "running" and self.eta is not None:
                right.append((f"ETA {fmt_duration(self.eta)}", "bold"))
            if self.tok_s is not None:
                right.append((f"{fmt_rate(self.tok_s)} tok/s", ""))
            if self.mfu is not None:
                right.append((f"MFU {100 * self.mfu:.0f}%", ""))
            if self.status != "running" and self.reason:
                right.append((self.reason, "dim"))
        steps = fmt_steps(self.step, self.max_steps)
        t.append(f"{steps} ")
        if self.max_steps:
            frac = min(1.0, self.step / self.max_steps)
            used = t.cell_len + sum(len(s) + 2 for s, _ in right) + 6
            bar_w = max(6, min(40, width - used))
            done = int(frac * bar_w)
            t.append("━" * done, style=color)
            t.append("━" * (bar_w - done), style="grey35")
            t.append(f" {100 * frac:3.0f}%")
        for s, style in right:
            t.append("  ")
            t.append(s, style=style)
        return t
