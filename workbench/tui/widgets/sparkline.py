"""Text sparklines and bars: one line of block characters, cheap to draw, fine in 256 colours."""

from __future__ import annotations

BLOCKS = " ▁▂▃▄▅▆▇█"
EIGHTHS = " ▏▎▍▌▋▊▉"


def spark(values: list[float], width: int, lo: float | None = None, hi: float | None = None) -> str:
    """The last `width` values (bucketed by max when there are more) as block characters."""
    if width <= 0 or not values:
        return " " * max(width, 0)
    if len(values) > width:
        step = len(values) / width
        values = [max(values[int(i * step):max(int((i + 1) * step), int(i * step) + 1)]) for i in range(width)]
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    span = (hi - lo) or 1.0
    chars = [BLOCKS[1 + min(7, max(0, int((v - lo) / span * 7.999)))] for v in values]
    return "".join(chars).rjust(width)


def bar(fraction: float | None, width: int) -> str:
    """A horizontal bar filled to `fraction` (0..1), in eighths of a cell."""
    if width <= 0:
        return ""
    f = 0.0 if fraction is None or fraction != fraction else min(1.0, max(0.0, fraction))
    cells = f * width
    full = int(cells)
    part = EIGHTHS[int((cells - full) * 8)] if full < width else ""
    return ("█" * full + part).ljust(width)[:width]
