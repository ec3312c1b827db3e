"""What the trainer is doing (keys.PHASES), recorded on change and shown in the dashboard header;
the evaluation at step 0, before any update."""

from __future__ import annotations

import asyncio
import io
import math

import pytest
from test_trainer import start, tiny_cfg

from workbench import keys
from workbench.checkpoint import load
from workbench.data import tokenizer_from_state
from workbench.metrics import MetricsWriter
from workbench.progress import Console
from workbench.store import RunStore
from workbench.trainer import train


def test_the_trainer_records_its_phase_when_it_changes_and_evaluates_step_0(tmp_path):
    cfg = tiny_cfg(tmp_path, train__max_steps=20, checkpoint__interval=10)
    run = start(tmp_path, cfg)
    assert train(cfg, run).status == "finished"
    r = run.reader()
    try:
        phases = [(e.step, e.message) for e in r.events(phases=True) if e.kind == keys.PHASE]
        assert all(e.kind != keys.PHASE for e in r.events())  # other readers see the events they did
        evals = r.series(keys.EVAL_VAL_LOSS)
    finally:
        r.close()
    names = [m for _, m in phases]
    assert names[:3] == [keys.STARTING, keys.EVALUATING, keys.TRAINING] and set(names) == set(keys.PHASES)
    assert all(a != b for a, b in zip(names, names[1:])), "a phase recorded twice in a row"
    assert len(names) < 20, "recorded more often than it changed"  # 20 steps, 2 evaluations, 1 sample
    assert (10, keys.EVALUATING) in phases and (10, keys.SAMPLING) in phases and (10, keys.CHECKPOINTING) in phases
    assert [s for s, _ in evals] == [0, 10, 20]
    vocab = tokenizer_from_state(load(run.checkpoint("last"))["tokenizer"]).vocab_size
    assert evals[0][1] == pytest.approx(math.log(vocab), abs=0.3)  # the untrained model: about ln(vocab)
    assert evals[0][1] > evals[-1][1]


def test_the_poller_keeps_the_latest_phase_apart_from_the_events(tmp_path):
    from workbench.config import Config
    from workbench.tui.poller import RunTail

    store = RunStore(tmp_path / "runs")
    run = store.create_run("p-1", Config())
    with MetricsWriter(run.db_path) as w:
        w.event(keys.PHASE, keys.TRAINING, step=0)
        w.event("compile", "first step took 1 s", step=1)
        w.event(keys.PHASE, keys.EVALUATING, step=10)
    tail = RunTail(run)
    try:
        snap = tail.poll()
        assert snap.phase == keys.EVALUATING and [e.kind for e in snap.new_events] == ["compile"]
        with MetricsWriter(run.db_path) as w:
            w.event(keys.PHASE, "hacking", step=10)  # not a phase: ignored
        assert tail.poll().phase == keys.EVALUATING
        with MetricsWriter(run.db_path) as w:
            w.event(keys.PHASE, keys.CHECKPOINTING, step=10)
        assert tail.poll().phase == keys.CHECKPOINTING
    finally:
        tail.close()


def test_the_header_says_what_the_trainer_does():
    pytest.importorskip("textual")
    from textual.app import App

    from workbench.tui.widgets.progress_header import ProgressHeader

    class One(App):
        def compose(self):
            yield ProgressHeader("tiny-1", id="h")

    async def go() -> None:
        app = One()
        async with app.run_test(size=(100, 3)):
            h = app.query_one(ProgressHeader)

            def shown(**kw) -> str:
                state = {"status": "running", "reason": "", "step": 40, "max_steps": 100,
                         "summary": {"eta_s": 12.0}, "waiting": False, **kw}
                h.set_state(**state)
                return h.build().plain

            assert "evaluating…" in shown(phase=keys.EVALUATING) and "40/100" in shown(phase=keys.EVALUATING)
            assert "checkpointing…" in shown(phase=keys.CHECKPOINTING)
            assert "…" not in shown(phase=keys.TRAINING)  # the counter moves: no word needed
            assert "starting…" in shown(phase=keys.STARTING)  # a resume loading its checkpoint
            assert "evaluating" not in shown(phase=keys.EVALUATING, status="finished")
            assert "waiting for the first step" in shown(phase=keys.STARTING, waiting=True, step=0)
            assert "evaluating…" in shown(phase=keys.EVALUATING, waiting=True, step=0)  # step 0's evaluation
            assert "…" not in shown(phase=None)  # a run from before phases were recorded

    asyncio.run(go())


def test_the_progress_bar_shows_the_phase():
    out = io.StringIO()
    c = Console(100, stream=out, tty=True)
    c.start("training")
    c.phase(keys.EVALUATING)
    assert c.bar.tasks[0].fields["phase"] == "evaluating…"
    c.phase(keys.TRAINING)
    assert c.bar.tasks[0].fields["phase"] == ""
    c.close()
    plain = Console(100, stream=io.StringIO(), tty=False)
    plain.phase(keys.EVALUATING)  # plain lines: nothing (an evaluation prints its own line)
    assert plain.stream.getvalue() == ""


def test_log_lines_say_which_step_the_val_loss_is_from():
    """Evaluated at step 0 and every 250 steps: in between, the val loss says its step, so a
    line at step 240 does not look as if validation were stuck at the untrained model's loss."""
    plain = Console(300, stream=io.StringIO(), tty=False)
    plain.start("training")
    plain.evaluated(0, 4.1988, 4.1966)
    plain.update(10, 3.88, 20_000.0, None, 58.0)
    plain.evaluated(250, 2.30, 2.31)
    plain.update(250, 2.28, 20_000.0, None, 13.0)
    lines = plain.stream.getvalue().splitlines()
    assert "| val 4.1966 @0 |" in lines[2]
    assert "| val 2.3100 |" in lines[4]
    bar = Console(300, stream=io.StringIO(), tty=True)
    bar.start("training")
    bar.update(10, 3.88, 20_000.0, None, 58.0)
    bar.evaluated(20, 3.5, 3.6)
    assert "val 3.6000 @20" in bar.bar.tasks[0].fields["info"]
    bar.close()
