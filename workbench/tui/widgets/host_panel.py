"""The host: each GPU's util, memory, temperature and power; CPU and RAM."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench.formatting import fmt_bytes
from workbench.tui.messages import HostSnapshot
from workbench.tui.widgets.sparkline import bar


def util_style(pct: float | None) -> str:
    if pct is None:
        return "dim"
    return "green" if pct >= 70 else "yellow" if pct >= 25 else "red"


def gb(used: float | None, total: float | None) -> str:
    if used is None or total is None:
        return "-"
    return f"{used / 1e9:.1f}/{total / 1e9:.0f} GB"


class HostPanel(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__("reading GPUs…", **kwargs)
        self.host: HostSnapshot | None = None
        self.border_title = "Host"

    def show(self, host: HostSnapshot) -> None:
        self.host = host
        self.update(self.render_host())

    def on_resize(self) -> None:
        if self.host is not None:
            self.update(self.render_host())

    def render_host(self) -> Text:
        h = self.host
        assert h is not None
        width = max(40, self.content_size.width or 78)
        out = Text(no_wrap=True, overflow="ellipsis")
        bar_w = 10 if width < 100 else 20
        for g in h.gpus:
            name = (g.name or "").replace("NVIDIA ", "")[: 14 if width < 100 else 28]
            out.append(f"{g.index} {name:<{14 if width < 100 else 28}} ", style="bold")
            out.append("util ")
            out.append(bar((g.util_pct or 0) / 100, bar_w), style=util_style(g.util_pct))
            out.append(f" {g.util_pct:>3.0f}%" if g.util_pct is not None else "   -%")
            frac = (g.mem_used / g.mem_total) if g.mem_used is not None and g.mem_total else None
            out.append("  mem ")
            if width >= 100:
                out.append(bar(frac, bar_w), style="cyan")
                out.append(" ")
            out.append(f"{gb(g.mem_used, g.mem_total):>12}")
            out.append(f"  {g.temp_c:.0f}°C" if g.temp_c is not None else "  -°C")
            out.append(f"  {g.power_w:.0f} W" if g.power_w is not None else "  - W")
            out.append("\n")
        if h.gpu_note:
            out.append(h.gpu_note, style="yellow")
            out.append("   ")
        cpu = f"{h.cpu_pct:.0f}%" if h.cpu_pct is not None else "-"
        out.append(f"CPU {cpu}  RAM {fmt_bytes(h.ram_used)} / {fmt_bytes(h.ram_total)}", style="dim")
        return out

    def summary(self) -> str:
        """One line for the title bar: the first GPU's util and memory."""
        if not self.host or not self.host.gpus:
            return ""
        g = self.host.gpus[0]
        util = f"{g.util_pct:.0f}%" if g.util_pct is not None else "-"
        return f"{(g.name or '').replace('NVIDIA ', '')[:16]} {util} {gb(g.mem_used, g.mem_total)}"
