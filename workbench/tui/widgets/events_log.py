"""Events (watchdog, errors, checkpoints) and the tail of train.log."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

KIND_STYLE = {"error": "bold red", "diverged": "bold magenta", "oom": "bold red", "warning": "yellow",
              "spike": "yellow", "checkpoint": "cyan", "stop": "yellow"}


class EventsLog(VerticalScroll):
    """Follows the newest line (Textual's anchor: kept through resizes and new lines) until the
    user scrolls up; scrolling back to the end follows again."""

    can_focus = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.events: list = []
        self.log_lines: list[str] = []
        self.border_title = "Events · log"

    def compose(self):
        yield Static("no events yet", id="events-text")

    def on_mount(self) -> None:
        self.anchor()

    def add(self, events: list, log_tail: list[str] | None) -> None:
        if not events and log_tail is None:
            return
        self.events.extend(events)
        self.events = self.events[-200:]
        if log_tail is not None:
            self.log_lines = log_tail
        t = Text(no_wrap=False)
        for e in self.events:
            t.append(f"{e.step if e.step is not None else '-':>6} ", style="dim")
            t.append(f"{e.kind} ", style=KIND_STYLE.get(e.kind, "bold"))
            t.append(f"{e.message}\n")
        if self.log_lines:
            t.append("── train.log ──\n", style="dim")
            for ln in self.log_lines:
                t.append(ln + "\n", style="grey70")
        if not t.plain:
            t.append("no events yet", style="dim")
        self.query_one("#events-text", Static).update(t)
