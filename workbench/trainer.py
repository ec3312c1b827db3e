"""The training loop, read top to bottom as nanoGPT's train.py: `train(cfg, run)`.

    train ─ start      build data, model, optimizer; restore a checkpoint or announce the start
          ─ loop       step, log every train.log_interval, evaluate / sample / checkpoint at intervals
          ─ finish     a limit: evaluate, sample, checkpoint; a signal: checkpoint, stopped

The hot loop never synchronizes the GPU except at log points: the losses and grad
norms of a logging window stay device tensors and are read with one `.tolist()`.
Everything recorded goes through a sink (sink.py): the recording API's run handle
(recording.Recorder, the same one scripts and commands are recorded with) on the
recording process, nothing elsewhere.

Under torchrun every rank runs this same loop on its share of each step's batches
(step.py); the recorder (distributed.py) alone writes the run. The ranks must make the same
collective calls in the same order, so whatever only one rank can see (a stop signal,
max_time on its clock) is agreed on at log points, and evaluation is never cut short.

How a run ends (status, exit code) is in outcome.py.
"""

from __future__ import annotations

import functools
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field

import torch

from workbench import checkpoint, fork, keys
from workbench.config import Config
from workbench.device import is_oom
from workbench.distributed import Dist, report_failure
from workbench.errors import WorkbenchError
from workbench.loop_points import (
    at_intervals,
    enter,
    evaluate_and_record,
    keep_weights,
    log,
    sample_and_record,
    save_last,
)
from workbench.outcome import Diverged, Result, StopFlag, from_exception
from workbench.progress import NullConsole
from workbench.rank_telemetry import Latest
from workbench.recording import Recorder
from workbench.schedule import lr_at
from workbench.sink import NullSink
from workbench.smoothing import SmoothedRate
from workbench.step import Parts, build, set_lr, train_step
from workbench.telemetry import TelemetrySampler
from workbench.train_state import TrainState, read_checkpoint, restore_rank_rng
from workbench.window import Speed, Window


@dataclass
class Session:
    """What the loop's functions share: one process training one run."""

    cfg: Config
    run: object  # store.Run
    sink: NullSink
    console: object  # progress.Console or NullConsole
    flag: StopFlag
    dist: Dist = field(default_factory=Dist)
    parts: Parts | None = None
    state: TrainState | None = None
    telemetry: TelemetrySampler | None = None
    gpu_latest: Latest | None = None  # a GPU rank that does not record: its newest reading
    window: Window = field(default_factory=Window)
    rate: SmoothedRate = field(default_factory=SmoothedRate)  # steps/s of wall clock, for the ETA
    last_log: tuple[int, float] | None = None  # (step, time) of the last log point after the first step
    lr: float = 0.0
    started: bool = False  # start() done: the run is being trained (a resume has begun)
    pruning: object | None = None  # sweep.Pruning, for a sweep's trial whose sweep prunes
    stopping: bool = False  # the ranks agreed to stop (several ranks; one process reads the flag)
    time_up: bool = False  # the ranks agreed that train.max_time is reached (several ranks)
    phase: str | None = None  # keys.PHASES: what the viewers were last told the trainer does
    from_checkpoint: bool = False  # a resume or a fork: step 0 (if it is one) was evaluated already
    forking: dict | None = None  # run.json's forked_from while a fork's first session has not begun

    @property
    def ranks(self) -> bool:
        """Several ranks, which must agree before they stop."""
        return self.dist.world_size > 1


# ---------------------------------------------------------------- the run


def train(cfg: Config, run, resume: bool = False, console=None, stop: StopFlag | None = None,
          sink: NullSink | None = None, dist: Dist | None = None) -> Result:
    """Train `cfg` into `run` (a store Run; None on the ranks that do not record). Never raises:
    the outcome is in the Result and in run.json. Exceptions print their traceback to stderr
    (the run's log)."""
    t0 = time.time()
    dist = dist or Dist()
    with (stop or StopFlag()) as flag:
        if not dist.is_recorder:
            sink, console = NullSink(), NullConsole()
        s = Session(cfg, run, sink or Recorder(run), console or NullConsole(), flag, dist)
        s.forking = fork.pending(run) if resume and run is not None else None
        try:
            enter(s, keys.STARTING)
            if flag.signum is not None and not resume:  # a new run, nothing built: nothing to save
                result = stopped(s, "before the first step")
            else:
                start(s, resume)
                result = finish(s, loop(s))
        except Exception as e:  # noqa: BLE001 - every failure must end the run cleanly
            result = failed(s, e)
        finally:
            if s.telemetry is not None:
                s.telemetry.stop()
        result = close_sink(s, result)
    if s.state is not None:
        result.step, result.tokens, result.best_val = s.state.step, s.state.tokens, s.state.best_val
        result.tok_per_s = s.state.speed.mean
    result.wall_s = time.time() - t0
    if resume and not s.started and not s.forking and run is not None and run.raw_info().resumed_from is not None:
        run.undo_resuming()  # the resume did not begin: the run stays as it was (a fork that did not begin failed)
    else:
        s.sink.finish(result.status, result.reason)
    return result


def start(s: Session, resume: bool) -> None:
    """Data, model, optimizer and, on resume, the checkpoint; the telemetry sampler."""
    cfg, d = s.cfg, s.dist
    if s.run is not None:  # left by a killed save; we hold the run's lock
        checkpoint.remove_partial(s.run.checkpoints_dir)
    load_ckpt = functools.partial(read_checkpoint, s.run, d) if resume else None
    s.parts = p = build(cfg, load_ckpt=load_ckpt, dist=d)
    s.state = st = TrainState(p.model, p.optimizer, p.scaler)
    setup, counts, tok = p.setup, p.counts, p.ds.tokenizer
    t = cfg.train  # the global batch: every rank's micro-batches of a step
    ranks = (f", {d.world_size} ranks ({t.batch_size} × {t.grad_accum} × {d.world_size} sequences, "
             f"{p.tokens_per_step:,} tokens per step)") if d.active else ""
    if p.ckpt is not None:
        st.load_state_dict(p.ckpt)
        restore_rank_rng(p.ckpt, d)
        was = p.ckpt.get("world_size", 1)
        p.ckpt = None
        s.from_checkpoint = True
        s.sink.truncate_after(st.step)
        if d.active:  # every rank resets what a fork starts afresh, or their collectives part ways
            s.forking = d.from_recorder(lambda: s.forking)
        if s.forking is not None:
            begin_fork(s)
        elif s.run is not None:
            s.sink.event("resume", f"resumed at step {st.step} from {s.run.checkpoint('last')}{ranks}", step=st.step)
        if was != d.world_size:
            s.sink.event("resume", f"the run trained on {was} ranks and goes on with {d.world_size}: the global "
                                   f"batch is now {p.tokens_per_step:,} tokens per step (train.grad_accum "
                                   "keeps it when scaled by the inverse ratio)", step=st.step)
    else:
        s.sink.event("start", f"{counts['total']:,} parameters on {setup.device_name}{ranks}, "
                              f"precision {setup.precision}, compile {setup.compile}", step=0)
        keep_weights(s)
    if s.run is not None:
        s.run.update_info(params=counts["total"], params_no_embedding=counts["non_embedding"],
                          device_name=setup.device_name + (f" ×{d.world_size}" if d.world_size > 1 else ""),
                          torch_version=torch.__version__, cuda_version=torch.version.cuda or "",
                          max_steps=cfg.train.max_steps or None)
    device = setup.device
    if not d.is_recorder:
        s.gpu_latest = Latest()  # this rank's GPU, sent to the recorder at log points
    if d.is_recorder or device.type == "cuda":
        s.telemetry = TelemetrySampler(emit=s.gpu_latest or s.sink.telemetry, interval=cfg.system.telemetry_interval,
                                       cuda_index=(device.index or 0) if device.type == "cuda" else None).start()
    s.console.message(f"{s.run.id if s.run else ''}: {counts['total']:,} parameters ({counts['non_embedding']:,} without "
                      f"embeddings), vocab {tok.vocab_size}, {len(p.ds.train):,} train / {len(p.ds.val):,} "
                      f"val tokens, {setup.device_name} {setup.precision}{ranks}, "
                      f"compile {'on' if setup.compile else 'off'}")
    s.console.start(f"training {'from step ' + str(st.step) if st.step else ''}".strip(), st.step, st.best_val)
    if resume and s.run is not None:
        s.run.write_config(cfg)  # the checkpoint loaded: now a --set that extends the run is its config
    s.started = True
    if cfg.experiment.sweep and d.is_recorder:  # a sweep's trial: its pruner hears the metric at each evaluation
        from workbench.sweep import Pruning

        s.pruning = Pruning.for_run(cfg, s.run.path)


def begin_fork(s: Session) -> None:
    """A fork's first session: the parent's state is loaded; the child's best and speed are its own."""
    st, f = s.state, s.forking
    fork.check_start(s.cfg, st.step, f["run"])
    st.best_val, st.speed = None, Speed()
    if s.run is not None:
        s.run.update_info(forked_from={**f, "step": st.step})
    s.sink.event("fork", f"forked from {f['run']} at step {st.step} (its {f['checkpoint']} checkpoint)", step=st.step)


def loop(s: Session) -> str | None:
    """Train until a limit (returns why) or a stop signal (returns None)."""
    t, st, p = s.cfg.train, s.state, s.parts
    session_t0, base_time = time.time(), st.train_time  # max_time counts all the run's sessions
    if st.step == 0 and not s.from_checkpoint and s.cfg.eval.interval:
        evaluate_and_record(s)  # as nanoGPT: the loss before any update (about ln(vocab)), on the chart
    enter(s, keys.TRAINING)
    s.parts.model.train()
    first = True
    reason = limit_reached(s)
    while reason is None and not stop_requested(s):
        s.lr = lr_at(st.step, t)
        set_lr(p.optimizer, s.lr)
        step_t0 = time.time()
        loss, norm = first_step(s) if first else train_step(p, st.step, t.grad_accum, t.grad_clip)
        st.step += 1
        st.tokens += p.tokens_per_step
        st.train_time = base_time + time.time() - session_t0
        s.window.add(loss, norm, timed=not first)
        if first:
            first_step_done(s, step_t0)
            first = False
        elif st.step % t.log_interval == 0:
            log(s)
        reason = limit_reached(s)
        if reason is None:
            at_intervals(s)
    return reason


def finish(s: Session, reason: str | None) -> Result:
    """The end: a limit (evaluate, sample, checkpoint) or a signal (checkpoint, stopped)."""
    result = end(s, reason)
    s.dist.barrier()  # no rank ends while the recorder still writes: torchrun would kill it
    return result


def end(s: Session, reason: str | None) -> Result:
    if s.window.losses:
        log(s)
    if reason is None:
        save_last(s, f"stopped by {signal.Signals(s.flag.signum or signal.SIGTERM).name}")
        return stopped(s, f"at step {s.state.step}")
    evaluate_and_record(s)
    if s.cfg.sample.interval >= 0 and s.flag.signum is None:
        sample_and_record(s)
    keep_weights(s)
    save_last(s, "end")
    return Result("finished", reason)


def stopped(s: Session, when: str) -> Result:
    name = signal.Signals(s.flag.signum or signal.SIGTERM).name
    step = s.state.step if s.state is not None else None
    s.sink.event("stop", f"stopped by {name} {when}", step=step)
    s.console.message(f"stopped by {name} {when}" + ("; checkpoint saved" if step is not None else ""))
    return Result("stopped", f"stopped by {name} {when}", signum=s.flag.signum or signal.SIGTERM)


def failed(s: Session, e: Exception) -> Result:
    """The Result (and the event) for an exception that ended the run."""
    step = s.state.step if s.state is not None else 0
    if not s.dist.is_recorder and not isinstance(e, (WorkbenchError, Diverged)):
        report_failure(e)  # the recorder records the run; torchrun's agent learns why this rank ended
    kind, result, unexpected = from_exception(e, step)
    s.sink.event(kind, result.reason, step=step)
    if unexpected:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
    return result


def close_sink(s: Session, result: Result) -> Result:
    """Commit what is queued; a run whose metrics could not be written has failed."""
    try:
        s.sink.close()
    except Exception as e:  # noqa: BLE001 - e.g. sqlite3.OperationalError: database or disk is full
        print(f"workbench: the metrics could not be written: {type(e).__name__}: {e}", file=sys.stderr)
        if result.status != "failed":
            full = "full" in str(e).lower() or "no space" in str(e).lower()
            why = "no space left on device" if full else f"{type(e).__name__}: {e}"
            return Result("failed", f"{why} while writing {s.run.db_path.name}")
    return result


# ---------------------------------------------------------------- the steps


def first_step(s: Session) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The session's first step, where torch.compile compiles: its failure gets a hint."""
    try:
        return train_step(s.parts, s.state.step, s.cfg.train.grad_accum, s.cfg.train.grad_clip)
    except Exception as e:
        if s.parts.setup.compile and not is_oom(e):
            raise RuntimeError(f"torch.compile failed ({type(e).__name__}: {e}); set system.compile = false "
                               "(--set system.compile=false) to train without it") from e
        raise


def first_step_done(s: Session, step_t0: float) -> None:
    """The first step (compilation, allocator warmup) is reported apart from tok/s."""
    s.parts.setup.sync()
    compile_s = time.time() - step_t0
    st = s.state
    s.sink.log({keys.COMPILE_S: compile_s}, st.step, st.tokens)
    s.sink.event("compile", f"first step took {compile_s:.2f} s"
                            f"{' (torch.compile)' if s.parts.setup.compile else ''}", step=st.step)
    log(s)
    s.window.restart()
    s.last_log = (st.step, time.time())  # the ETA's rate leaves the first step out


def limit_reached(s: Session) -> str | None:
    t, st = s.cfg.train, s.state
    if t.max_steps and st.step >= t.max_steps:
        return f"reached train.max_steps ({t.max_steps})"
    if t.max_tokens and st.tokens >= t.max_tokens:
        return f"reached train.max_tokens ({t.max_tokens:,})"
    if t.max_time and (s.time_up if s.ranks else st.train_time >= t.max_time):
        return f"reached train.max_time ({t.max_time:g} s)"
    return None


def stop_requested(s: Session) -> bool:
    """A stop signal: at once in one process; with several ranks, once they agreed (log points)."""
    return s.stopping if s.ranks else s.flag.signum is not None
