"""Round axis ticks: integer steps, 1k/1M/1B tokens, m:ss or h:mm of time, 10^k on log axes.

Pure functions (no Textual, no plotext): a chart asks for ticks between its data's
limits and hands positions and labels to plotext.
"""

from __future__ import annotations

import math

TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]


def _nice_step(span: float, n: int) -> float:
    raw = span / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def nice_ticks(lo: float, hi: float, n: int = 5, integer: bool = False, time: bool = False) -> list[float]:
    """About n round positions inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    span = hi - lo
    if time:
        step = next((s for s in TIME_STEPS if s >= span / max(1, n)), _nice_step(span, n))
    else:
        step = _nice_step(span, n)
        if integer:
            step = max(1.0, round(step))
    first = math.ceil(lo / step) * step
    out, k = [], 0
    while first + k * step <= hi + 1e-9 * span:
        out.append(first + k * step)
        k += 1
    return out


def fmt_count(v: float) -> str:
    """1k, 2.5M, 1B; integers below a thousand."""
    a = abs(v)
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= scale:
            text = f"{v / scale:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{v:.0f}" if v == int(v) else f"{v:.3g}"


def fmt_clock(seconds: float, span: float) -> str:
    """m:ss under an hour of span, else h:mm."""
    s = int(round(seconds))
    if span < 3600:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s // 3600}:{(s % 3600) // 60:02d}"


def fmt_value(v: float) -> str:
    """A y value: short, as many digits as a loss needs."""
    a = abs(v)
    if a >= 1e3:
        return fmt_count(v)
    if a == 0:
        return "0"
    if a < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4g}"


def x_ticks(lo: float, hi: float, x: str, n: int = 5, log: bool = False) -> tuple[list[float], list[str]]:
    """Positions and labels for an x axis by 'step', 'tokens' or 'time' (seconds). With log, lo and hi
    are log10 of the data and the labels are the data's round values."""
    if log:
        return log_ticks(lo, hi, fmt_count)
    if x == "time":
        pos = nice_ticks(lo, hi, n, time=True)
        return pos, [fmt_clock(p, hi - lo) for p in pos]
    pos = nice_ticks(lo, hi, n, integer=True)
    return pos, [fmt_count(p) for p in pos]


def y_ticks(lo: float, hi: float, n: int = 5, log: bool = False) -> tuple[list[float], list[str]]:
    if log:
        return log_ticks(lo, hi, fmt_value)
    pos = nice_ticks(lo, hi, n)
    return pos, [fmt_value(p) for p in pos]


def log_ticks(lo: float, hi: float, fmt) -> tuple[list[float], list[str]]:
    """lo, hi are log10 of the data: ticks at 1, 2, 5 × 10^k when the span is short, 10^k when long."""
    if hi <= lo:
        return [lo], [fmt(10 ** lo)]
    mults = (1, 2, 5) if hi - lo < 2.5 else (1,)
    pos = []
    for k in range(math.floor(lo), math.ceil(hi) + 1):
        for m in mults:
            p = k + math.log10(m)
            if lo - 1e-9 <= p <= hi + 1e-9:
                pos.append(p)
    if len(pos) < 2:  # a span inside one decade: linear round values, placed on the log axis
        vals = [v for v in nice_ticks(10 ** lo, 10 ** hi, 4) if v > 0]
        pos = [math.log10(v) for v in vals]
    return pos, [fmt(10 ** p) for p in pos]
