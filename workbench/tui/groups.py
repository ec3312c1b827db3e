"""Runs grouped by a config key (the seeds of one config, say): each group drawn as its mean
with a min-max band. Pure functions, no Textual."""

from __future__ import annotations

from bisect import bisect_left

from workbench.formatting import fmt_value

Points = list[tuple[float, float]]


def group_runs(run_ids: list[str], configs: dict[str, dict], key: str) -> dict[str, list[str]]:
    """'key=value' → the runs with that value, in the runs' order."""
    groups: dict[str, list[str]] = {}
    for rid in run_ids:
        value = configs.get(rid, {}).get(key)
        groups.setdefault(f"{key}={fmt_value(value) if value is not None else '-'}", []).append(rid)
    return groups


def value_at(pts: Points, x: float) -> float | None:
    """The series at x, linear between its points; None outside its range."""
    if not pts or x < pts[0][0] or x > pts[-1][0]:
        return None
    i = bisect_left(pts, (x, float("-inf")))
    if pts[i][0] == x:
        return pts[i][1]
    (x0, y0), (x1, y1) = pts[i - 1], pts[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def band(series: list[Points]) -> tuple[Points, Points, Points]:
    """(mean, min, max) over the runs at every x any of them has, each run counted where it has data."""
    series = [sorted(s) for s in series if s]
    xs = sorted({x for s in series for x, _ in s})
    mean, lo, hi = [], [], []
    for x in xs:
        ys = [y for y in (value_at(s, x) for s in series) if y is not None]
        if ys:
            mean.append((x, sum(ys) / len(ys)))
            lo.append((x, min(ys)))
            hi.append((x, max(ys)))
    return mean, lo, hi
