"""Every key, on every screen."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Home: experiments", [("s", "start the selected experiment"),
                           ("S", "start it with overrides (key=value, as --set)"),
                           ("a", "queue it, with overrides; a file with [sweep] starts the sweep"),
                           ("↑/↓ enter", "move, fold/unfold"),
                           ("tab", "switch between experiments and runs")]),
    ("Home: runs", [("enter", "open the run's dashboard"), ("space", "mark / unmark for compare"),
                    ("c", "compare the marked runs"), ("x", "stop the run (asks first)"),
                    ("r", "resume a stopped run"), ("d", "delete a run that is not running (asks first)"),
                    ("f", "fork: a new run from its last checkpoint, with overrides (key=value)"),
                    ("/", "filter runs: words, tag:NAME (enter keeps, esc clears)"),
                    ("o", "cycle the sort order"),
                    ("t", "tags of the marked runs, or this one: +name -name"), ("n", "the run's note")]),
    ("Home: queue", [("d", "take the waiting entry off the queue"),
                     ("K / J", "move it earlier / later"), ("p", "pause / resume the queue"),
                     ("v", "view the latest sweep (anywhere on home)")]),
    ("Sweep", [("enter", "open the trial's dashboard"), ("space", "mark / unmark for compare"),
               ("c", "compare the marked trials"), ("o", "sort: trial, metric, status"),
               ("x", "stop the sweep (asks first)"), ("[ / ]", "older / newer sweep")]),
    ("Charts (dashboard and compare)", [
        ("m", "pick the metric: loss or any recorded key (on a grid: of the focused chart)"),
        ("+/-", "smoother / less smooth (EMA 0 to 0.99 on the raw points; raw drawn faint)"),
        ("l", "log / linear y axis"), ("L", "log / linear x axis"), ("z", "y axis from zero / fit"),
        ("t", "x axis: step, tokens, time")]),
    ("Dashboard", [("f", "config: diff / full"), ("p", "profile / samples pane"),
                   ("i", "inspect the model: attention maps"),
                   ("←/→", "older / newer sample"),
                   ("x", "stop the run (asks first)"), ("r", "resume"), ("tab", "focus the next pane (scroll with ↑/↓)")]),
    ("Inspect", [("↑/↓ ←/→", "layer / head"), ("a", "all heads of the layer side by side"),
                 ("[ ]", "previous / next checkpoint (init, kept steps, best, last)"),
                 ("t", "initial / trained model"), ("p", "edit the prompt (enter runs it, esc keeps the old)")]),
    ("Compare", [("b", "pin the next run as the baseline, drawn on top (then none)"),
                 ("g", "group the runs by the next setting that differs: mean and min-max band"),
                 ("o / O", "sort the runs table by the next column / reverse"),
                 ("←/→", "samples at an earlier / later step"), ("↑/↓ pgup/pgdn", "scroll")]),
    ("Everywhere", [("esc", "back"), ("?", "this help"), ("w", "save the screen as an SVG file here"),
                    ("q ctrl+c", "quit (training goes on)")]),
]


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for title, keys in KEYS:
            table.add_row(f"[b u]{title}[/]", "")
            for k, what in keys:
                table.add_row(k, what)
            table.add_row("", "")
        with VerticalScroll(id="help"):
            yield Static(table)
            yield Static("Quitting or losing the SSH link never stops training: runs are their own "
                         "processes, and the run store keeps their history.", classes="dim")

    def action_close(self) -> None:
        self.dismiss()
