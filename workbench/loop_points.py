"""What the training loop does at its points: a log point (the window's means, tok/s, MFU, ETA;
ranks agree on a stop), and every N steps evaluation, a sample and checkpoints. Each tells the
viewers its phase. Split from trainer.py, whose loop calls these; they share its Session.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from workbench import checkpoint, keys
from workbench.checkpoint_files import step_name
from workbench.evaluation import evaluate, sample
from workbench.mfu import mfu
from workbench.outcome import Diverged, Pruned
from workbench.rank_telemetry import share
from workbench.smoothing import eta_seconds

if TYPE_CHECKING:
    from workbench.trainer import Session


def agree(s: Session) -> None:
    """Several ranks: share what only some saw (a signal, max_time on their clock); one sync."""
    t = s.cfg.train
    signum, time_up = s.dist.max(s.flag.signum or 0, bool(t.max_time and s.state.train_time >= t.max_time))
    if signum:
        s.stopping, s.flag.signum = True, s.flag.signum or signum
    s.time_up = bool(time_up)


def at_intervals(s: Session) -> None:
    """Evaluation, samples and checkpoints every N steps, kept out of tok/s. Called after every
    step: a step where none is due costs a few comparisons."""
    cfg, step = s.cfg, s.state.step
    evaluating = cfg.eval.interval and step % cfg.eval.interval == 0
    sampling = cfg.sample.interval > 0 and step % cfg.sample.interval == 0
    saving = cfg.checkpoint.interval and step % cfg.checkpoint.interval == 0
    weights = weights_name(cfg.checkpoint, step)
    if not (evaluating or sampling or saving or weights):
        return
    aside_t0 = time.time()
    if evaluating:
        evaluate_and_record(s)
    if sampling and s.flag.signum is None:  # a signal during the evaluation: no sample
        sample_and_record(s)
    if saving:
        save_last(s, "interval")
    if weights:
        save(s, weights, weights_only=True)
    enter(s, keys.TRAINING)  # back from whatever ran above (nothing recorded if nothing did)
    s.window.t0 += time.time() - aside_t0


def enter(s: Session, phase: str) -> None:
    """Tell the viewers what the trainer does now: an event, only when it changes."""
    if phase != s.phase:
        s.phase = phase
        s.sink.event(keys.PHASE, phase, step=s.state.step if s.state is not None else None)
        s.console.phase(phase)


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
    name = weights_name(s.cfg.checkpoint, s.state.step)
    if name:
        save(s, name, weights_only=True)


def weights_name(c, step: int) -> str | None:
    """The weights-only checkpoint due at `step` under a [checkpoint] section, if one is."""
    if step == 0:
        return "init" if c.keep_init else None
    return step_name(step) if c.keep_every and step % c.keep_every == 0 else None


def kept(s: Session) -> str:
    if s.run is None:
        return "the recorder keeps the last good checkpoint"
    last = s.run.checkpoint("last")
    return "the last good checkpoint is kept" if last.exists() else "no checkpoint was written"
