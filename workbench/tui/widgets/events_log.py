"""Events (watchdog, errors, checkpoints) and the tail of train.log."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

KIND_STYLE = {"error": "bold red", "diverged": "bold magenta", "oom": "bold red", "warning": "yellow",
              "spike": "yellow", "checkpoint": "cyan", "stop": "yellow"}


class EventsLog(VerticalScroll):
    """Follows the newest line, through new lines and resizes, until the user scrolls up;
    scrolling back to the end follows again. (Textual's anchor() would do it, but it draws
    a log shorter than the pane at the pane's bottom.)"""

    can_focus = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.events: list = []
        self.log_lines: list[str] = []
        self.border_title = "Events · log"
        self.follow = True

    def compose(self):
        yield Static("no events yet", id="events-text")

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # only a scroll moves scroll_y: a resize or new lines leave it (or clamp it to the end)
        self.follow = new_value >= self.max_scroll_y - 0.5

    def on_resize(self) -> None:
        self._keep_following()

    def _keep_following(self) -> None:
        if self.follow:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

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
        self._keep_following()
