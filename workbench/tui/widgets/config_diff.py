"""The run's hyperparameters against the experiment its file extends: only what differs, or all."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.config import IDENTITY_KEYS
from workbench.formatting import fmt_value, override_keys


def short(v: object, n: int = 24) -> str:
    s = fmt_value(v)
    return s if len(s) <= n else s[: n - 1] + "…"


class ConfigDiff(VerticalScroll):
    can_focus = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.own: dict | None = None
        self.base: dict | None = None
        self.parent_name = ""
        self.origin = ""  # "tiny.toml + train.lr=0.01"
        self.overrides: list[str] = []
        self.full = False
        self.border_title = "Config"

    def compose(self):
        yield Static("reading the config…", id="config-text")

    def set_configs(self, own: dict, parent: dict, parent_name: str, origin: str = "",
                    overrides: list[str] = ()) -> None:
        self.own, self.base, self.parent_name = own, parent, parent_name
        self.origin, self.overrides = origin, list(overrides)
        self.border_subtitle = origin
        self.redraw()

    def toggle_full(self) -> None:
        self.full = not self.full
        self.redraw()

    def redraw(self) -> None:
        if self.own is None:
            return
        own, parent = self.own, self.base or {}
        changed = [k for k in own if k not in IDENTITY_KEYS and own.get(k) != parent.get(k)]
        t = Text(no_wrap=True, overflow="ellipsis")
        if not self.parent_name:  # a script's or a command's config: nothing to diff it against
            self.border_title = "Config"
            for k, v in own.items():
                t.append(f"{k} ", style="bold")
                t.append(f"{short(v, 40)}\n")
            if not own:
                t.append("no config recorded\n", style="dim")
        elif self.full:
            self.border_title = f"Config (full) · * vs {self.parent_name}"
            section = ""
            for k, v in own.items():
                s, name = k.split(".", 1)
                if s != section:
                    section = s
                    t.append(f"[{s}]\n", style="bold")
                star = k in changed
                t.append(f"{'*' if star else ' '} {name} = ", style="bold yellow" if star else "")
                t.append(f"{short(v, 40)}\n", style="yellow" if star else "dim")
        else:
            self.border_title = f"vs {self.parent_name}"
            if not changed:
                t.append(f"same settings as {self.parent_name}\n", style="dim")
            set_keys = override_keys(self.overrides)
            file_keys = [k for k in changed if k not in set_keys]
            for k in file_keys:
                self._line(t, k)
            if set_keys:  # the overrides apart from what the experiment file changes
                t.append("--set\n" if file_keys else "", style="bold cyan")
                for k in set_keys:
                    if k in own:
                        self._line(t, k)
        self.query_one("#config-text", Static).update(t)

    def _line(self, t: Text, k: str) -> None:
        t.append(f"{k} ", style="bold")
        t.append(short((self.base or {}).get(k)), style="dim")
        t.append("→", style="yellow")
        t.append(f"{short(self.own.get(k))}\n", style="yellow")
