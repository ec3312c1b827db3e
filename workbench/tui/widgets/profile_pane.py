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
from textual.widgets import Static


def load_profile(run_or_dict) -> dict | None:
    """The profile dict of a Run (None when it has no readable profile.json), or the dict itself."""
    if run_or_dict is None or isinstance(run_or_dict, dict):
        return run_or_dict
    try:
        return json.loads(run_or_dict.profile_path.read_text())
    except (OSError, ValueError, AttributeError):
        return None


def _ms(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def render_profile(profile: dict | None, top: int = 12):
    if not profile:
        return Text("no profile: run `workbench profile EXPERIMENT.toml`", style="dim")
    head = Text.assemble(
        (f"{profile.get('device', '?')} {profile.get('precision', '')}", "bold"),
        f"  compile {'on' if profile.get('compile') else 'off'}",
        f"  {profile.get('ms_per_step', 0):.1f} ms/step" if profile.get("ms_per_step") is not None else "",
        f"  {profile.get('steps', '?')} steps")
    verdict = Text(profile.get("verdict", ""), style="yellow")
    breakdown = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", expand=False)
    breakdown.add_column("where", no_wrap=True)
    breakdown.add_column("CPU ms", justify="right")
    breakdown.add_column("CPU", justify="right")
    cuda = any(b.get("cuda_ms") is not None for b in profile.get("breakdown", []))
    if cuda:
        breakdown.add_column("CUDA ms", justify="right")
        breakdown.add_column("GPU", justify="right")
    for b in profile.get("breakdown", []):
        row = [b.get("category", "?"), _ms(b.get("cpu_ms")), _pct(b.get("cpu_share"))]
        if cuda:
            row += [_ms(b.get("cuda_ms")), _pct(b.get("cuda_share"))]
        breakdown.add_row(*row)
    ops = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", expand=False)
    ops.add_column("operator", no_wrap=True, overflow="ellipsis", max_width=44)
    ops.add_column("self CPU ms", justify="right")
    ops.add_column("self CUDA ms", justify="right")
    ops.add_column("calls", justify="right")
    for r in profile.get("table", [])[:top]:
        ops.add_row(r.get("name", "?"), _ms(r.get("self_cpu_ms")), _ms(r.get("self_cuda_ms")),
                    str(r.get("calls", "")))
    return Group(head, verdict, Text(""), breakdown, Text(""), ops)


class ProfilePane(Static):
    """Shows a run's profile.json: the verdict, the time breakdown and the operator table."""

    def __init__(self, profile=None, top: int = 12, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.border_title = "Profile"
        self.top = top
        self.show_profile(profile)

    def show_profile(self, run_or_dict) -> None:
        """Show a Run's profile (read from its profile.json) or a loaded profile dict."""
        self.profile = load_profile(run_or_dict)
        self.update(render_profile(self.profile, self.top))
