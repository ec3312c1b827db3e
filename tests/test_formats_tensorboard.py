"""`workbench export RUN… --tensorboard DIR`, read back with TensorBoard's own event reader."""

from __future__ import annotations

import pytest

from tests.conftest import cli, write_fake_run
from workbench.store import RunStore

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_back(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_export_tensorboard_scalars_and_samples(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    a = write_fake_run(store, "alpha", steps=100)
    b = write_fake_run(store, "beta", steps=50, started=1.8e9)
    out = tmp_path / "tb"
    code, stdout, _ = cli(capsys, "export", a.id, b.id, "--tensorboard", str(out), "--runs-dir", str(store.root))
    assert code == 0 and "tensorboard --logdir" in stdout
    for run, steps in ((a, 100), (b, 50)):
        acc = read_back(out / run.id)
        tags = acc.Tags()
        assert {"train/loss", "eval/val_loss", "perf/tok_per_s"} <= set(tags["scalars"])
        ours = run.reader().series("train/loss", max_points=10_000)
        theirs = acc.Scalars("train/loss")
        assert [e.step for e in theirs] == [int(s) for s, _ in ours] == list(range(0, steps + 1, 10))
        assert [e.value for e in theirs] == pytest.approx([v for _, v in ours])
        assert theirs[0].wall_time == pytest.approx(run.reader().scalars_since(0)[0][0].time)
        texts = acc.Tensors("samples")
        assert [t.step for t in texts] == list(range(0, steps + 1, 50))
        assert texts[-1].tensor_proto.string_val[0].decode() == f"```\n\nsample text at {steps}\n```"
    # a second export into the same folder would show every point twice: refused
    code, _, err = cli(capsys, "export", a.id, "--tensorboard", str(out), "--runs-dir", str(store.root))
    assert code == 2 and "already holds" in err


def test_export_options_stay_apart(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    a = write_fake_run(store, "alpha", steps=10)
    b = write_fake_run(store, "beta", steps=10, started=1.8e9)
    code, _, err = cli(capsys, "export", a.id, b.id, "--runs-dir", str(store.root))
    assert code == 2 and "one run" in err
    code, _, err = cli(capsys, "export", a.id, "--tensorboard", "x", "-o", "y.tar.gz", "--runs-dir", str(store.root))
    assert code == 2 and "one of -o" in err
