"""Every key of the screen `?` was pressed on, read from the real bindings: the screen's own,
each of its panes', then the app's. A binding added anywhere shows here by itself."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

KeyRows = list[tuple[str, str]]  # (keys, what they do)


def own_bindings(node: DOMNode) -> list[Binding]:
    """The bindings this node's classes declare, but for Textual's own (its cursor and scroll
    keys are said in one line at the end of the help)."""
    out: list[Binding] = []
    for cls in reversed(type(node).__mro__):
        if cls.__module__.split(".")[0] != "textual" and "BINDINGS" in cls.__dict__:
            out.extend(Binding.make_bindings(cls.__dict__["BINDINGS"]))
    return out


def key_rows(app: App, bindings: list[Binding], seen: set) -> KeyRows:
    """One row per action: its keys together ('+ ='), its description (and tooltip, if any).
    A key with the same description in an earlier group (`seen`) is not said again."""
    by_action: dict[tuple[str, str], list[str]] = {}
    for b in bindings:
        if b.system or (b.key, b.description) in seen:
            continue
        keys = by_action.setdefault((b.action, b.description), [])
        shown = app.get_key_display(b)
        if shown not in keys:
            keys.append(shown)
    seen.update((b.key, b.description) for b in bindings)
    tips = {(b.action, b.description): b.tooltip for b in bindings if b.tooltip}
    return [(" ".join(keys), f"{desc}: {tips[(action, desc)]}" if (action, desc) in tips else desc)
            for (action, desc), keys in by_action.items()]


def words(name: str) -> str:
    """'ExperimentTree' -> 'experiment tree'."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def binding_groups(app: App, screen: Screen | None) -> list[tuple[str, KeyRows]]:
    """(title, rows) for the screen, each of its panes with keys of their own, and the app."""
    groups: list[tuple[str, KeyRows]] = []
    seen: set = set()
    if screen is not None:
        title = type(screen).__name__.removesuffix("Screen") or "Screen"
        groups.append((title, key_rows(app, own_bindings(screen), seen)))
        for widget in screen.walk_children():
            rows = key_rows(app, own_bindings(widget), seen)
            if rows:
                groups.append((f"{title}: {words(type(widget).__name__)}", rows))
    groups.append(("Everywhere", key_rows(app, own_bindings(app), seen)))
    return [(title, rows) for title, rows in groups if rows]


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close the help")]

    def __init__(self, source: Screen | None = None) -> None:
        super().__init__()
        self.source = source  # the screen `?` was pressed on

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for title, rows in binding_groups(self.app, self.source):
            table.add_row(Text(title, style="bold underline"), "")
            for keys, what in rows:
                table.add_row(Text(keys), Text(what))  # plain text: "[sweep]" is not markup
            table.add_row("", "")
        with VerticalScroll(id="help"):
            yield Static(table)
            yield Static("↑/↓, PgUp/PgDn and Home/End move in every list and pane; tab goes to the next pane. "
                         "Each screen's ? lists its own keys.", classes="dim")
            yield Static("Quitting or losing the SSH link never stops training: runs are their own "
                         "processes, and the run store keeps their history.", classes="dim")

    def action_close(self) -> None:
        self.dismiss()
