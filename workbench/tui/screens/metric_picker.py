"""Pick what a chart shows: the loss (train and val) or any key the run recorded."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from workbench import keys
from workbench.tui.widgets.chart_grid import LOSS


def option_text(key: str) -> Text:
    m = keys.describe(key)
    t = Text(f"{key:<24}", style="bold")
    t.append(f" {m.label} · {m.meaning}", style="dim")
    return t


class MetricPicker(ModalScreen):
    """Dismisses with a tuple of keys, or None."""

    BINDINGS = [Binding("escape,q", "cancel", "cancel")]

    def __init__(self, available: list[str]) -> None:
        super().__init__()
        self.available = available

    def compose(self) -> ComposeResult:
        options = [Option(Text("loss  train and val", style="bold"), id="\n".join(LOSS))]
        options += [Option(option_text(k), id=k) for k in self.available]
        picker = OptionList(*options, id="metric-picker")
        picker.border_title = "Show in the chart (enter picks, esc cancels)"
        yield picker

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(tuple(event.option.id.split("\n")))

    def action_cancel(self) -> None:
        self.dismiss(None)
