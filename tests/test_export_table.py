"""`workbench export RUN… --csv/--json`: one long table, read back and checked against the store."""

from __future__ import annotations

import csv
import json

from conftest import write_fake_run

from workbench import keys
from workbench.cli import main
from workbench.store import RunStore


def store_rows(run, key=None):
    r = run.reader()
    try:
        return [(run.id, k, s.step, s.tokens, s.time, s.value)
                for k in ([key] if key else r.keys()) for s in r.rows(k)]
    finally:
        r.close()


def test_csv_and_json_read_back_equal_the_store(runs_dir, tmp_path, capsys):
    store = RunStore(runs_dir)
    a = write_fake_run(store, "alpha", started=1.7e9)
    b = write_fake_run(store, "beta", status="stopped", started=1.7e9 + 60, val_start=4.0)
    out = tmp_path / "all.csv"
    assert main(["export", a.id, b.id, "--csv", str(out), "--runs-dir", str(runs_dir)]) == 0
    with open(out, newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["run", "key", "step", "tokens", "time", "value"]
    back = [(r, k, int(s), int(t), float(tm), float(v)) for r, k, s, t, tm, v in table[1:]]
    assert back == store_rows(a) + store_rows(b) and len(back) > 40
    assert f"{len(back):,} rows from 2 runs" in capsys.readouterr().out

    out = tmp_path / "val.json"
    assert main(["export", b.id, a.id, "--json", str(out), "--key", keys.EVAL_VAL_LOSS,
                 "--runs-dir", str(runs_dir)]) == 0
    data = json.loads(out.read_text())
    assert [tuple(d.values()) for d in data] == store_rows(b, keys.EVAL_VAL_LOSS) + store_rows(a, keys.EVAL_VAL_LOSS)


def test_unknown_series_names_the_nearest(runs_dir, tmp_path, capsys):
    run = write_fake_run(RunStore(runs_dir), "alpha")
    out = tmp_path / "x.csv"
    code = main(["export", run.id, "--csv", str(out), "--key", "eval/val_los", "--runs-dir", str(runs_dir)])
    assert code == 2 and "did you mean 'eval/val_loss'" in capsys.readouterr().err and not out.exists()
    code = main(["export", run.id, "--csv", str(out), "--json", str(out), "--runs-dir", str(runs_dir)])
    assert code == 2
