"""GPU util and memory over time (the run's telemetry), tok/s and MFU now and as sparklines."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench import keys
from workbench.contention import heavy_share
from workbench.formatting import fmt_bytes, fmt_rate
from workbench.tui.widgets.sparkline import spark


class TelemetryPanel(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.telemetry: dict[str, list[tuple[float, float]]] = {}
        self.now: dict[str, float] = {}
        self.perf: dict[str, list[tuple[float, float]]] = {}
        self.perf_now: dict[str, float] = {}
        self.device = ""
        self.border_title = "GPU · speed"

    def set_data(self, telemetry=None, telemetry_now=None, perf=None, perf_now=None, device=None) -> None:
        if telemetry is not None:
            self.telemetry = telemetry
        if telemetry_now:
            self.now = telemetry_now
        if perf is not None:
            self.perf = perf
        if perf_now:
            self.perf_now = perf_now
        if device is not None:
            self.device = device
            self.border_title = device or "GPU · speed"
        self.update(self.build())

    def on_resize(self) -> None:
        self.update(self.build())

    def build(self) -> Text:
        width = max(20, self.content_size.width or 30)
        sw = max(4, width - 17)
        t = Text(no_wrap=True, overflow="ellipsis")
        others = self.now.get(keys.CPU_OTHERS_SHARE)
        if heavy_share(others):  # speed figures from a shared, busy machine say so
            t.append(f"⚠ others use {100 * others:.0f}% of the CPU\n", style="bold yellow")

        def line(label: str, values: list[float], now: str, lo=None, hi=None, style="cyan") -> None:
            t.append(f"{label:<6}")
            t.append(spark(values, sw, lo, hi) if values else "·" * sw, style=style)
            t.append(f" {now:>10}\n")

        util = [v for _, v in self.telemetry.get(keys.GPU_UTIL, [])]
        mem = [v for _, v in self.telemetry.get(keys.GPU_MEM_USED, [])]
        total = self.now.get(keys.GPU_MEM_TOTAL)
        if util or keys.GPU_UTIL in self.now:
            u = self.now.get(keys.GPU_UTIL)
            line("util", util, f"{u:.0f}%" if u is not None else "-", 0, 100, "green")
            used = self.now.get(keys.GPU_MEM_USED)
            now = f"{(used or 0) / 1e9:.1f}/{total / 1e9:.0f}G" if total else fmt_bytes(used)
            line("mem", mem, now, 0, total, "magenta")
            extra = [f"{self.now[k]:.0f}{u}" for k, u in ((keys.GPU_POWER_W, " W"), (keys.GPU_TEMP_C, "°C"),
                                                           (keys.GPU_SM_CLOCK_MHZ, " MHz")) if k in self.now]
            if extra:
                t.append(" · ".join(extra) + "\n", style="dim")
            for key in sorted((k for k in self.telemetry if keys.rank_of_key(k) is not None), key=keys.rank_of_key):
                u = self.now.get(key)  # a data-parallel run's other GPUs, by rank
                line(f"gpu{keys.rank_of_key(key)}", [v for _, v in self.telemetry[key]],
                     f"{u:.0f}%" if u is not None else "-", 0, 100, "green")
        else:
            cpu = [v for _, v in self.telemetry.get(keys.CPU_PERCENT, [])]
            c = self.now.get(keys.CPU_PERCENT)
            if cpu or c is not None:
                line("cpu", cpu, f"{c:.0f}%" if c is not None else "-", 0, None, "green")
                rss = self.now.get(keys.CPU_RSS)
                t.append(f"no GPU · rss {fmt_bytes(rss)}\n", style="dim")
            else:
                t.append("no telemetry yet\n", style="dim")
        # per logging window: the header has the run's mean
        tok = [v for _, v in self.perf.get(keys.TOK_PER_S, [])]
        mfu = [v for _, v in self.perf.get(keys.MFU, [])]
        rate = self.perf_now.get(keys.TOK_PER_S)
        line("tok/s", tok, f"{fmt_rate(rate)} now" if rate is not None else "-", 0, None, "yellow")
        m = self.perf_now.get(keys.MFU)
        line("MFU", [100 * v for v in mfu], f"{100 * m:.1f}%" if m is not None else "-", 0, None, "yellow")
        ms = self.perf_now.get(keys.STEP_MS)
        if ms is not None:
            t.append(f"last window {ms:.0f} ms/step", style="dim")
        return t
