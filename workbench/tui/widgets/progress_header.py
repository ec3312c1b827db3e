"""The dashboard's top line: run, status, step/max with a bar, then the run's summary figures
(ETA, tok/s mean, MFU, training and wall time) as `ls` and `show` print them, then its tags and
note where the width allows."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench import keys
from workbench.formatting import (
    STATUS_COLOR,
    STATUS_SYMBOL,
    fmt_duration,
    fmt_rate,
    fmt_steps,
    fmt_tags,
)


class ProgressHeader(Static):
    def __init__(self, run_id: str, **kwargs) -> None:
        super().__init__(run_id, **kwargs)
        self.run_id = run_id
        self.status = "running"
        self.reason = ""
        self.step = 0
        self.max_steps: int | None = None
        self.summary: dict = {}
        self.waiting = True
        self.labels = None  # workbench.labels.RunLabels, set by the dashboard
        self.phase: str | None = None

    def set_state(self, *, status: str, reason: str, step: int, max_steps: int | None, summary: dict,
                  waiting: bool, phase: str | None = None) -> None:
        """summary: Run.summary (workbench.keys.SUMMARY), the same figures `ls` and `show` print;
        phase: what the trainer does now (keys.PHASES), None if it never said."""
        self.status, self.reason, self.step, self.max_steps = status, reason, step, max_steps
        self.summary, self.waiting, self.phase = summary, waiting, phase
        self.update(self.build())

    def phase_figure(self) -> tuple[str, str] | None:
        """'evaluating…' (sampling, checkpointing, starting) while the step counter waits for it.
        Training needs no word: the counter moves and 'training 25s' follows. Nothing once ended."""
        if self.status != "running" or self.phase in (None, keys.TRAINING):
            return None
        return f"{self.phase}…", "bold yellow"

    def figures(self) -> list[tuple[str, str]]:
        """(text, style) after the bar, most wanted first; what does not fit is left out."""
        s = self.summary
        out = []
        phase = self.phase_figure()
        if self.status == "running" and self.waiting and self.phase in (None, keys.STARTING, keys.TRAINING):
            return [("waiting for the first step…", "italic")]
        if phase is not None:
            out.append(phase)
        if self.status == "running" and s.get("eta_s") is not None:
            out.append((f"ETA {fmt_duration(s['eta_s'])}", "bold"))
        if s.get("tokens_per_sec") is not None:
            out.append((f"{fmt_rate(s['tokens_per_sec'])} tok/s mean", ""))
        if s.get("mfu") is not None:
            out.append((f"MFU {100 * s['mfu']:.0f}%", ""))
        if self.status != "running" and self.reason:
            out.append((self.reason, "dim"))
        if s.get("train_time_s") is not None:
            out.append((f"training {fmt_duration(s['train_time_s'])}", "dim"))
        if s.get("wall_time_s") is not None:
            out.append((f"wall {fmt_duration(s['wall_time_s'])}", "dim"))
        if self.labels is not None and self.labels.tags:
            out.append((fmt_tags(self.labels.tags, 40), "italic"))
        if self.labels is not None and self.labels.note:
            note = self.labels.note.replace("\n", " ")
            out.append((note if len(note) <= 60 else note[:59] + "…", "italic dim"))
        return out

    def on_resize(self) -> None:
        self.update(self.build())

    def build(self) -> Text:
        width = self.content_size.width or 80
        t = Text(no_wrap=True, overflow="ellipsis")
        color = STATUS_COLOR.get(self.status, "white")
        t.append(f"{self.run_id} ", style="bold")
        t.append(f"{STATUS_SYMBOL.get(self.status, '?')} {self.status} ", style=f"bold {color}")
        steps = fmt_steps(self.step, self.max_steps)
        t.append(f"{steps} ")
        right, used = [], t.cell_len + (11 if self.max_steps else 0)  # the shortest bar and its %
        for s, style in self.figures():
            if right and used + len(s) + 2 > width:
                break
            right.append((s, style))
            used += len(s) + 2
        if self.max_steps:
            frac = min(1.0, self.step / self.max_steps)
            bar_w = max(6, min(40, width - used + 6))
            done = int(frac * bar_w)
            t.append("━" * done, style=color)
            t.append("━" * (bar_w - done), style="grey35")
            t.append(f" {100 * frac:3.0f}%")
        for s, style in right:
            t.append("  ")
            t.append(s, style=style)
        return t
