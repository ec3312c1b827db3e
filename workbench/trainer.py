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
import math
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field

import torch

from workbench import checkpoint, fork, keys
from workbench.checkpoint_files import step_name
from workbench.config import Config
from workbench.device import is_oom
from workbench.distributed import Dist, report_failure
from workbench.errors import WorkbenchError
from workbench.evaluation import evaluate, sample
from workbench.mfu import mfu
from workbench.outcome import Diverged, Pruned, Result, StopFlag, from_exception
from workbench.progress import NullConsole
from workbench.rank_telemetry import Latest, share
from workbench.recording import Recorder
from workbench.schedule import lr_at
from workbench.sink import NullSink
from workbench.smoothing import SmoothedRate, eta_seconds
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


def agree(s: Session) -> None:
    """Several ranks: share what only some saw (a signal, max_time on their clock); one sync."""
    t = s.cfg.train
    signum, time_up = s.dist.max(s.flag.signum or 0, bool(t.max_time and s.state.train_time >= t.max_time))
    if signum:
        s.stopping, s.flag.signum = True, s.flag.signum or signum
    s.time_up = bool(time_up)


def at_intervals(s: Session) -> None:
    """Evaluation, samples and checkpoints every N steps, kept out of tok/s."""
    cfg, step = s.cfg, s.state.step
    aside_t0 = time.time()
    if cfg.eval.interval and step % cfg.eval.interval == 0:
        evaluate_and_record(s)
    if cfg.sample.interval > 0 and step % cfg.sample.interval == 0 and s.flag.signum is None:
        sample_and_record(s)
    if cfg.checkpoint.interval and step % cfg.checkpoint.interval == 0:
        save_last(s, "interval")
    keep_weights(s)
    enter(s, keys.TRAINING)  # back from whatever ran above (nothing recorded if nothing did)
    s.window.t0 += time.time() - aside_t0


def enter(s: Session, phase: str) -> None:
    """Tell the viewers what the trainer does now: an event, only when it changes."""
    if phase != s.phase:
        s.phase = phase
        s.sink.event(keys.PHASE, phase, step=s.state.step if s.state is not None else None)
        s.console.phase(phase)


# ---------------------------------------------------------------- log, evaluate, sample, checkpoint


def log(s: Session) -> None:
    """A log point: the window's mean loss, lr, grad norm, tok/s and MFU; events; the console."""
    st, p = s.state, s.parts
    losses, norms = s.window.read(s.dist.all_reduce_mean)  # the one sync: the mean over ranks
    if s.ranks:
        agree(s)
        if p.setup.device.type == "cuda" and s.cfg.system.telemetry_interval > 0:
            share(s.dist, s.gpu_latest, s.sink)  # one series per GPU, other machines' too
    first = st.step - len(losses) + 1
    for i, (loss, norm) in enumerate(zip(losses, norms, strict=True)):
        if not math.isfinite(loss):
            raise Diverged(f"loss became {loss} at step {first + i}; {kept(s)} (try a lower train.lr, "
                           "a longer train.warmup_steps or train.grad_clip)")
        for kind, message in st.track(loss, norm, first + i, s.cfg.train.warmup_steps):
            s.sink.event(kind, message, step=first + i)
    values = {keys.TRAIN_LOSS: sum(losses) / len(losses), keys.TRAIN_LR: s.lr, keys.TRAIN_TIME_S: st.train_time}
    if norms[-1] is not None:
        values[keys.TRAIN_GRAD_NORM] = norms[-1]
    tok_s = run_mfu = None
    now = time.time()
    if s.window.steps and now > s.window.t0:
        seconds = now - s.window.t0
        tok_s = s.window.steps * p.tokens_per_step / seconds
        values[keys.TOK_PER_S] = tok_s
        values[keys.STEP_MS] = 1000 * seconds / s.window.steps
        run_mfu = mfu(tok_s, p.flops_per_token, p.peak, devices=s.dist.world_size)
        if run_mfu is not None:
            values[keys.MFU] = run_mfu
        st.speed.add(s.window.steps * p.tokens_per_step, seconds)
        values[keys.TOK_PER_S_MEAN] = st.speed.mean
    if s.last_log is not None:
        s.rate.update(st.step - s.last_log[0], now - s.last_log[1])
        s.last_log = (st.step, now)
    t = s.cfg.train
    left = eta_seconds(s.rate.steps_per_s, st.step, st.tokens, p.tokens_per_step, t.max_steps,
                       t.max_tokens, t.max_time, st.train_time)
    if left is not None:
        values[keys.ETA_S] = left
    s.sink.log(values, st.step, st.tokens)
    s.console.update(st.step, values[keys.TRAIN_LOSS], tok_s, run_mfu, left)
    s.window.restart(now)


def evaluate_and_record(s: Session) -> None:
    if s.window.losses:
        log(s)
    st = s.state
    enter(s, keys.EVALUATING)
    eval_t0 = time.time()
    ev = evaluate(s.parts, s.cfg, s.flag)
    if ev is None:
        return
    eval_s = time.time() - eval_t0  # evaluate() ends with .item(): the device is done
    s.sink.log({keys.EVAL_TRAIN_LOSS: ev["train"], keys.EVAL_VAL_LOSS: ev["val"], keys.EVAL_S: eval_s},
               st.step, st.tokens)
    s.console.evaluated(st.step, ev["train"], ev["val"])
    if st.step == 0:
        return  # the untrained model: a sanity check, not a best checkpoint nor a trial to prune (as nanoGPT)
    if math.isfinite(ev["val"]) and (st.best_val is None or ev["val"] < st.best_val):
        st.best_val = ev["val"]
        if s.cfg.checkpoint.keep_best:
            save(s, "best")
    prune = bool(s.pruning) and s.pruning.should_stop(st.step, {keys.EVAL_VAL_LOSS: ev["val"],
                                                                 keys.EVAL_TRAIN_LOSS: ev["train"]})
    if s.cfg.experiment.sweep and s.ranks:
        prune = bool(s.dist.max(prune)[0])  # the recorder asked the study; every rank stops with it
    if prune:
        raise Pruned(f"pruned by the sweep at step {st.step} (val loss {ev['val']:.4f})")


def sample_and_record(s: Session) -> None:
    if not s.dist.is_recorder:  # one sample per run; the other ranks wait for it in the next step
        return
    st = s.state
    enter(s, keys.SAMPLING)
    sample_t0 = time.time()
    text = sample(s.parts, s.cfg)  # ends with .tolist(): the device is done
    s.sink.log({keys.SAMPLE_S: time.time() - sample_t0}, st.step, st.tokens)
    s.sink.sample(s.cfg.sample.prompt, text, st.step, st.tokens)


def save_last(s: Session, why: str) -> None:
    """checkpoints/last.pt, after checking the window's losses (a NaN ends the run first)."""
    if s.window.losses and (s.ranks or not s.window.all_finite()):  # ranks: each sees only its losses
        log(s)  # raises Diverged naming the step
    save(s, "last")
    if s.run is not None:
        s.sink.event("checkpoint", f"{why}: {s.run.checkpoint('last')}", step=s.state.step)


def save(s: Session, name: str, weights_only: bool = False) -> None:
    """Write checkpoints/<name>.pt: never with non-finite weights, and only after what was
    recorded up to this step is committed (a kill -9 then resume leaves no gap).
    `weights_only`: the model and its step, not what resume needs (a third of the size)."""
    st = s.state
    if not st.weights_finite():
        raise Diverged(f"the weights became NaN/Inf by step {st.step}; {kept(s)} (try a lower "
                       "train.lr, a longer train.warmup_steps or train.grad_clip)")
    # every rank takes part (a weights-only file needs no RNG states, on no rank)
    by_rank = s.dist.gather(checkpoint.rng_state()) if s.ranks and not weights_only else None
    if s.run is None:
        return  # the recorder writes it, once; the model's state is the same on every rank
    enter(s, keys.CHECKPOINTING)
    s.sink.flush()
    extra = {} if weights_only else {"world_size": s.dist.world_size, **({"rng_by_rank": by_rank} if by_rank else {})}
    state = {"model": st.model.state_dict(), "step": st.step} if weights_only else st.state_dict()
    checkpoint.save_run(s.run.checkpoints_dir / f"{name}.pt", state, s.cfg, s.parts.ds.tokenizer, **extra)


def keep_weights(s: Session) -> None:
    """checkpoint.keep_init (init.pt, before the first step) and checkpoint.keep_every
    (step-NNNNNNN.pt): the weights over time, for `workbench attn` and the inspect screen."""
    c, step = s.cfg.checkpoint, s.state.step
    if step == 0 and c.keep_init:
        save(s, "init", weights_only=True)
    elif step and c.keep_every and step % c.keep_every == 0:
        save(s, step_name(step), weights_only=True)


def kept(s: Session) -> str:
    if s.run is None:
        return "the recorder keeps the last good checkpoint"
    last = s.run.checkpoint("last")
    return "the last good checkpoint is kept" if last.exists() else "no checkpoint was written"
