"""Resume: a finished run is refused unless the resume extends it; a resume that fails leaves
the run's status and config as they were."""

from __future__ import annotations

from tests.conftest import cli
from tests.test_trainer import start, tiny_cfg
from workbench.checkpoint import load
from workbench.trainer import train


def finished_run(tmp_path, steps=10):
    cfg = tiny_cfg(tmp_path, train__max_steps=steps, train__log_interval=5, eval__interval=5,
                   sample__interval=5)
    run = start(tmp_path, cfg)
    assert train(cfg, run).status == "finished"
    return run


def test_finished_run_is_refused_with_a_hint(tmp_path, capsys):
    run = finished_run(tmp_path)
    before = run.info_path.read_bytes()
    for args in (("resume", run.id), ("resume", run.id, "--fg"), ("run", "--resume", run.id)):
        code, _, err = cli(capsys, *args, "--runs-dir", str(run.path.parent))
        assert code == 2 and "is finished" in err and "--set train.max_steps=N" in err, err
    code, _, err = cli(capsys, "resume", run.id, "--runs-dir", str(run.path.parent), "--set", "train.lr=1e-3")
    assert code == 2 and "is finished" in err  # a change that does not extend it is no reason
    assert run.info_path.read_bytes() == before


def test_extending_a_finished_run(tmp_path, capsys):
    run = finished_run(tmp_path)
    code, out, _ = cli(capsys, "resume", run.id, "--fg", "--runs-dir", str(run.path.parent),
                       "--set", "train.max_steps=20")
    assert code == 0 and "finished at step 20" in out
    assert run.info().status == "finished" and run.config().train.max_steps == 20
    r = run.reader()
    try:
        evals = [s for s, _ in r.series("eval/val_loss")]
        assert evals == [0, 5, 10, 15, 20]  # step 0 and the old end's evaluation once, not twice
        assert [s.step for s in r.samples()] == [5, 10, 15, 20]
    finally:
        r.close()
    assert load(run.checkpoint("last"))["step"] == 20


def test_a_failed_resume_leaves_status_and_config(tmp_path, capsys):
    run = finished_run(tmp_path)
    run.update_info(status="stopped", reason="stopped by SIGINT at step 10")
    run.checkpoint("last").write_bytes(b"not a checkpoint at all")
    config_before = run.config_path.read_bytes()
    code, _, err = cli(capsys, "run", "--resume", run.id, "--runs-dir", str(run.path.parent),
                       "--set", "train.max_steps=30")
    assert code == 2 and "cannot read the checkpoint" in err
    info = run.info()
    assert (info.status, info.reason, info.resumed_from) == ("stopped", "stopped by SIGINT at step 10", None)
    assert run.config_path.read_bytes() == config_before
