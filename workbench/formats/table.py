"""Runs out as one long table: `workbench export RUN… --csv FILE` or `--json FILE`.

One row per recorded scalar: run, key, step, tokens, time (wall clock, Unix seconds),
value; the runs in the order given, each run's rows by key and step. `--key` keeps
only the named series. Reads the store only, in batches, so a long run never sits
in memory at once for the CSV.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.formatting import nearest

COLUMNS = ("run", "key", "step", "tokens", "time", "value")
BATCH = 50_000  # rows read per query


def rows(run, series: list[str] | None):
    """(run, key, step, tokens, time, value) of one run, by key and step."""
    reader = run.reader()
    try:
        recorded = reader.keys()
        for key in series or []:
            if key not in recorded:
                hint = nearest(key, recorded)
                raise WorkbenchError(f"{run.id} has no series {key!r}" + (f"; did you mean {hint!r}?" if hint
                                     else f"; it has: {', '.join(recorded)}"))
        for key in series or recorded:
            after = -1
            while True:
                batch = reader.rows(key, after_id=after, limit=BATCH)
                for r in batch:
                    yield (run.id, key, r.step, r.tokens, r.time, r.value)
                if len(batch) < BATCH:
                    break
                after = batch[-1].id
    finally:
        reader.close()


def write(runs: list, out: Path, fmt: str, series: list[str] | None = None) -> int:
    """Write the table as 'csv' or 'json' (a list of objects); the number of rows."""
    n = 0
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            if fmt == "csv":
                w = csv.writer(fh)
                w.writerow(COLUMNS)
                for run in runs:
                    for row in rows(run, series):
                        w.writerow(row)
                        n += 1
            else:
                table = [dict(zip(COLUMNS, row)) for run in runs for row in rows(run, series)]
                json.dump(table, fh)
                n = len(table)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return n
