"""Short human formats shared by the CLI and the TUI (no rich, no textual)."""

from __future__ import annotations

import difflib
import time

STATUS_SYMBOL = {"running": "●", "finished": "✓", "stopped": "■", "failed": "✗", "diverged": "✗",
                 "crashed": "✗", "damaged": "!", "pruned": "✂"}
STATUS_COLOR = {"running": "green", "finished": "cyan", "stopped": "yellow", "failed": "red",
                "diverged": "magenta", "crashed": "red", "damaged": "red", "pruned": "blue"}


def nearest(word: str, options: list[str]) -> str | None:
    """The option most like `word` (a mistyped key), or None."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return close[0] if close else None


def fmt_origin(experiment_file: str, experiment: str, overrides: list[str],
               forked_from: dict | None = None) -> str:
    """Where a run's settings came from: 'tiny.toml + train.lr=0.01', 'fork of tiny-…@60 + train.lr=0.001'."""
    base = fmt_fork(forked_from) or (experiment_file.rsplit("/", 1)[-1] if experiment_file else experiment)
    return " + ".join([base or "-", *overrides])


def fmt_fork(forked_from: dict | None) -> str:
    """'fork of tiny-20261126-120000@60' (the step once the fork's trainer has read its checkpoint)."""
    if not forked_from:
        return ""
    step = forked_from.get("step")
    return f"fork of {forked_from.get('run')}" + (f"@{step}" if step is not None else "")


def override_keys(overrides: list[str]) -> list[str]:
    """The dotted keys of --set key=value texts."""
    return [o.split("=", 1)[0].strip() for o in overrides]


def fmt_loss(v: float | None, none: str = "-") -> str:
    if v is None:
        return none
    return "nan" if v != v else f"{v:.4f}"


def fmt_rate(v: float | None, none: str = "-") -> str:
    """Tokens per second: 1.41M, 23.5k, 512."""
    if v is None:
        return none
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.{2 if v < 10 * scale else 1}f}{unit}"
    return f"{v:.0f}"


def fmt_pct(v: float | None, none: str = "-") -> str:
    return none if v is None else f"{100 * v:.1f}%"


def fmt_params(n: int | None) -> str:
    """Parameter counts: 124.4M, 29.9k."""
    if not n:
        return "-"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def fmt_bytes(v: float | None) -> str:
    if v is None:
        return "-"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if v >= scale:
            return f"{v / scale:.1f} {unit}"
    return f"{v:.0f} B"


def fmt_duration(seconds: float | None, none: str = "-", compact: bool = False) -> str:
    """42s, 3m05s, 1h02m; compact (at most 5 characters, for narrow columns): 42s, 3m05, 1h02, 2d03."""
    if seconds is None or seconds != seconds or seconds < 0:
        return none
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if compact:  # the unit of the second figure goes without saying
        if s < 3600:
            return f"{s // 60}m{s % 60:02d}"
        if s < 86400:
            return f"{s // 3600}h{(s % 3600) // 60:02d}"
        return f"{s // 86400}d{(s % 86400) // 3600:02d}" if s < 100 * 86400 else f"{s // 86400}d"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    if time.time() - ts < 20 * 3600:
        return time.strftime("%H:%M:%S", time.localtime(ts))
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def fmt_steps(step: int | None, max_steps: int | None) -> str:
    return f"{step or 0}/{max_steps}" if max_steps else f"{step or 0}"


def fmt_value(v: object) -> str:
    """A config value as TOML would write it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v).replace("'", '"') if not v or v.strip() != v or "\n" in v else v
    return str(v)


def fmt_tags(tags: list[str], width: int = 30) -> str:
    """A run's tags, comma-separated, cut to `width` characters (`workbench tag RUN` prints them all)."""
    text = ",".join(tags)
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


# The summary figures (workbench.keys.SUMMARY says what each means) as `show`, `compare` and the
# TUI's compare screen label them: (label, summary field, format).
SUMMARY_ROWS = [
    ("best val loss", "best_val_loss", fmt_loss),
    ("final train loss", "final_train_loss", fmt_loss),
    ("final val loss", "final_val_loss", fmt_loss),
    ("tok/s (mean)", "tokens_per_sec", fmt_rate),
    ("tok/s (last window)", "tokens_per_sec_last", fmt_rate),
    ("MFU", "mfu", fmt_pct),
    ("peak memory", "peak_memory_bytes", fmt_bytes),
    ("training time", "train_time_s", fmt_duration),
    ("wall time", "wall_time_s", fmt_duration),
    ("params", "params", fmt_params),
]


def use_color(stream) -> bool:
    """Colour codes only to a terminal, and never with NO_COLOR set (https://no-color.org)."""
    import os

    return stream.isatty() and not os.environ.get("NO_COLOR")


ANSI = {"green": "32", "cyan": "36", "yellow": "33", "red": "31", "magenta": "35", "bold": "1"}


def plain_table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset(),
                colors: list[str | None] | None = None, color_col: int | None = None) -> str:
    """A whitespace-aligned table; fast for thousands of rows (rich's Table is not)."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells: list[str], color: str | None = None) -> str:
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            text = c.rjust(w) if i in right else c.ljust(w)
            if color and i == color_col:
                text = f"\x1b[{ANSI[color]}m{text}\x1b[0m"
            out.append(text)
        return "  ".join(out).rstrip()

    lines = [line(headers)]
    for i, r in enumerate(rows):
        lines.append(line(r, colors[i] if colors else None))
    return "\n".join(lines)
