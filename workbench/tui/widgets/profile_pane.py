"""A run's profile (`workbench profile`): the verdict, where the step's time goes, and
the most expensive operators.

Takes a store `Run` (reads its profile.json, a small file) or the loaded dict. No SQLite,
no torch.
"""

from __future__ import annotations

import json

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

NAME_MIN = 24  # the operator column never gets narrower than this


def load_profile(run_or_dict) -> dict | None:
    """The profile dict of a Run (None when it has no readable profile.json), or the dict itself."""
    if run_or_dict is None or isinstance(run_or_dict, dict):
        return run_or_dict
    try:
        data = json.loads(run_or_dict.profile_path.read_text())
    except (OSError, ValueError, AttributeError):
        return None
    return data if isinstance(data, dict) else None


def how_to_profile(run=None) -> str:
    """The one line shown where a run has no profile: the command that makes one."""
    try:
        exp = run.raw_info().experiment_file.rsplit("/", 1)[-1] if run is not None else ""
    except Exception:  # noqa: BLE001 - an unreadable run.json: name no file
        exp = ""
    return f"no profile of this run: `workbench profile {exp or 'EXPERIMENT.toml'}` makes one (a new run)"


def cut_name(name: str, width: int) -> str:
    """An operator name cut in the middle: the tail tells apart names that share a long head
    ('autograd::engine::evaluate_function: MmBackward0' and '…: AddmmBackward0')."""
    if len(name) <= width:
        return name
    head = max(1, (width - 1) // 3)
    return name[:head] + "…" + name[len(name) - (width - 1 - head):]


def _ms(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _breakdown(profile: dict) -> Table:
    breakdown = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", expand=False)
    breakdown.add_column("where", no_wrap=True)
    breakdown.add_column("CPU ms", justify="right")
    breakdown.add_column("CPU", justify="right")
    cuda = any(b.get("cuda_ms") is not None for b in profile.get("breakdown", []))
    if cuda:
        breakdown.add_column("CUDA ms", justify="right")
        breakdown.add_column("GPU", justify="right")
    for b in profile.get("breakdown", []):
        row = [str(b.get("category", "?")), _ms(b.get("cpu_ms")), _pct(b.get("cpu_share"))]
        if cuda:
            row += [_ms(b.get("cuda_ms")), _pct(b.get("cuda_share"))]
        breakdown.add_row(*row)
    return breakdown


def _operators(profile: dict, top: int, width: int) -> Table:
    """The operator table; the name column takes the width the numbers leave."""
    rows = [r for r in profile.get("table", [])[:top] if isinstance(r, dict)]
    cuda = any(r.get("self_cuda_ms") is not None for r in rows)
    numbers = [("self CPU ms", "self_cpu_ms")] + ([("self CUDA ms", "self_cuda_ms")] if cuda else [])
    name_width = max(NAME_MIN, width - sum(len(label) + 1 for label, _ in numbers) - len("calls") - 1)
    ops = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", expand=False)
    ops.add_column("operator", no_wrap=True)
    for label, _ in numbers:
        ops.add_column(label, justify="right")
    ops.add_column("calls", justify="right")
    for r in rows:
        ops.add_row(cut_name(str(r.get("name", "?")), name_width), *(_ms(r.get(k)) for _, k in numbers),
                    str(r.get("calls", "")))
    return ops


def render_profile(profile: dict | None, top: int = 12, width: int = 80, empty: str = ""):
    """The profile as rich renderables for a pane `width` columns wide; `empty` when there is none."""
    if not profile:
        return Text(empty or how_to_profile(), style="yellow")
    head = Text.assemble(
        (f"{profile.get('device', '?')} {profile.get('precision', '')}", "bold"),
        f"  compile {'on' if profile.get('compile') else 'off'}",
        f"  {profile.get('ms_per_step', 0):.1f} ms/step" if profile.get("ms_per_step") is not None else "",
        f"  {profile.get('steps', '?')} steps")
    verdict = Text(str(profile.get("verdict", "")), style="yellow")
    return Group(head, verdict, Text(""), _breakdown(profile), Text(""), _operators(profile, top, width))


class ProfilePane(VerticalScroll):
    """Shows a run's profile.json: the verdict, the time breakdown and the operator table.
    Focusable: ↑/↓, PgUp/PgDn, Home/End scroll it."""

    can_focus = True

    def __init__(self, profile=None, top: int = 12, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Profile"
        self.top = top
        self.profile: dict | None = None
        self.empty = how_to_profile()
        self._pending = profile

    def compose(self):
        yield Static("", id="profile-text")

    def on_mount(self) -> None:
        self.show_profile(self._pending)

    def show_profile(self, run_or_dict) -> None:
        """Show a Run's profile (read from its profile.json) or a loaded profile dict."""
        self.profile = load_profile(run_or_dict)
        self.empty = how_to_profile(None if isinstance(run_or_dict, dict) else run_or_dict)
        self._draw()

    def on_resize(self) -> None:
        self._draw()  # the operator names get the new width

    def _draw(self) -> None:
        if not self.is_mounted:
            return
        width = self.scrollable_content_region.width or 80
        self.query_one("#profile-text", Static).update(render_profile(self.profile, self.top, width, self.empty))
