"""The training loop: one function, `train(cfg, run)`, as flat as nanoGPT's train.py.

The hot loop never synchronizes the GPU except at log points: the loss stays a
tensor, the per-step losses and grad norms of a logging window are kept as tensors
and read with one `.tolist()` every `train.log_interval` steps. Store writes are
queued to the metrics writer's background thread.

Ends (run.json status, exit code of `workbench run`):
    finished   0   max_steps / max_tokens / max_time reached
    failed     1   an exception (traceback on stderr), CUDA OOM, torch.compile failure
    (bad input 2   WorkbenchError: a file, a key, a value)
    diverged   3   NaN/Inf loss; the last good checkpoint is kept
    stopped    128 + signal (130 SIGINT, 143 SIGTERM): the current step finishes, a checkpoint is saved
"""

from __future__ import annotations

import math
import signal
import sys
import time
import traceback
from dataclasses import dataclass

import torch

from workbench import checkpoint
from workbench.config import Config
from workbench.device import is_oom
from workbench.errors import WorkbenchError
from workbench.schedule import lr_at
from workbench.step import build, set_lr, train_step
from workbench.telemetry import TelemetrySampler

EXIT_CODES = {"finished": 0, "failed": 1, "diverged": 3}
SPIKE_FACTOR = 1.5      # a step's loss above this times the running mean is a spike (an event)
BLOWUP_FACTOR = 10.0    # a grad norm above this times the running mean is a blowup (an event)


class Diverged(Exception):
    pass


@dataclass
class Result:
    status: str
    reason: str = ""
    step: int = 0
    tokens: int = 0
    best_val: float | None = None
    tok_per_s: float | None = None
    wall_s: float = 0.0
    signum: int | None = None
    bad_input: bool = False  # a WorkbenchError: exit code 2

    @property
    def exit_code(self) -> int:
        if self.bad_input:
            return WorkbenchError.exit_code
        if self.status == "stopped":
            return 128 + (self.signum or signal.SIGTERM)
        return EXIT_CODES.get(self.status, 1)


class StopFlag:
    """SIGINT/SIGTERM set a flag; the loop finishes its step, saves and ends as stopped."""

    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (tests): no handlers
                pass
        return self

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _nullconsole():
    class Null:
        def __getattr__(self, name):
            return lambda *a, **k: None
    return Null()


def train(cfg: Config, run, resume: bool = False, console=None, stop: StopFlag | None = None) -> Result:
    """Train `cfg` into `run` (a store Run). Never raises: the outcome is in the Result
    and in run.json. Exceptions print their traceback to stderr (the run's log)."""
    console = console or _nullconsole()
    writer = run.writer()
    state: dict = {"step": 0, "tokens": 0, "best_val": None, "tok_per_s": None}
    t0 = time.time()
    threads: list = []  # the telemetry sampler, once started
    with (stop or StopFlag()) as flag:
        try:
            result = _train(cfg, run, writer, console, flag, resume, state, threads)
        except WorkbenchError as e:
            result = Result("failed", str(e), bad_input=True)
            writer.event("error", str(e), step=state["step"])
        except Diverged as e:
            result = Result("diverged", str(e))
            writer.event("diverged", str(e), step=state["step"])
        except Exception as e:  # noqa: BLE001 - every failure must end the run cleanly
            if is_oom(e):
                reason = (f"CUDA out of memory at step {state['step']}: lower train.batch_size or "
                          "model.block_size (raise train.grad_accum to keep the effective batch), "
                          "or use a smaller model")
                writer.event("oom", reason, step=state["step"])
            else:
                reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:500]
                writer.event("error", reason, step=state["step"])
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            result = Result("failed", reason)
        finally:
            for thread in threads:
                thread.stop()
            writer.close()
    result.step, result.tokens = state["step"], state["tokens"]
    result.best_val, result.tok_per_s = state["best_val"], state["tok_per_s"]
    result.wall_s = time.time() - t0
    run.mark_ended(result.status, result.reason)
    return result


def _train(cfg: Config, run, writer, console, flag: StopFlag, resume: bool, state: dict,
           threads: list) -> Result:
    t, m = cfg.train, cfg.model

    # ---- data, model, optimizer
    def load_ckpt(tok, device):
        if not resume:
            return None
        ckpt = checkpoint.load(run.checkpoint("last"), map_location=device)
        if ckpt["tokenizer"] != tok.state():
            raise WorkbenchError(f"{run.id}: the data's vocabulary differs from the checkpoint's; "
                                 "the dataset changed since the run started")
        return ckpt

    parts = build(cfg, load_ckpt=load_ckpt)
    setup, ds, model, compiled = parts.setup, parts.ds, parts.model, parts.compiled
    optimizer, scaler = parts.optimizer, parts.scaler
    train_batches, val_batches = parts.train_batches, parts.val_batches
    device, tok, counts = setup.device, ds.tokenizer, parts.counts
    ckpt, parts.ckpt = parts.ckpt, None
    tokens_per_step = parts.tokens_per_step
    step, tokens, train_time = 0, 0, 0.0
    ema = {"loss": None, "norm": None}
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scaler.load_state_dict(ckpt["scaler"])
        step, tokens, train_time = ckpt["step"], ckpt["tokens"], ckpt["train_time"]
        state["best_val"], ema = ckpt["best_val"], ckpt["ema"]
        checkpoint.set_rng_state(ckpt["rng"])
        writer.truncate_after(step)
        writer.event("resume", f"resumed at step {step} from {run.checkpoint('last')}", step=step)
        del ckpt
    else:
        writer.event("start", f"{counts['total']:,} parameters on {setup.device_name}, "
                              f"precision {setup.precision}, compile {setup.compile}", step=0)
    state["step"], state["tokens"] = step, tokens
    run.update_info(params=counts["total"], params_no_embedding=counts["non_embedding"],
                    device_name=setup.device_name, torch_version=torch.__version__,
                    cuda_version=torch.version.cuda or "", max_steps=t.max_steps or None)

    peak, fpt = parts.peak, parts.flops_per_token
    telemetry = TelemetrySampler(emit=writer.telemetry, interval=cfg.system.telemetry_interval,
                                 cuda_index=(device.index or 0) if device.type == "cuda" else None)
    threads.append(telemetry.start())
    console.message(f"{run.id}: {counts['total']:,} parameters ({counts['non_embedding']:,} without "
                    f"embeddings), vocab {tok.vocab_size}, {len(ds.train):,} train / {len(ds.val):,} val "
                    f"tokens, {setup.device_name} {setup.precision}, compile {'on' if setup.compile else 'off'}")
    console.start(f"training {'from step ' + str(step) if step else ''}".strip(), step, state["best_val"])

    # ---- helpers (closures over the state above)
    def save(name: str) -> None:
        checkpoint.save(run.checkpoints_dir / f"{name}.pt", {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(), "step": step, "tokens": tokens,
            "train_time": train_time, "best_val": state["best_val"], "ema": ema,
            "rng": checkpoint.rng_state(),
            "config": cfg.to_dict(), "tokenizer": tok.state(), "model_kind": m.kind,
        })

    @torch.no_grad()
    def evaluate() -> dict[str, float] | None:
        """Mean loss on eval.batches batches of each split; None when a signal cut it short."""
        model.eval()
        out = {}
        for split, batches in (("train", train_batches), ("val", val_batches)):
            losses = torch.zeros(cfg.eval.batches, device=device)
            for k in range(cfg.eval.batches):
                if flag.signum is not None:  # stop promptly: a long evaluation is not worth the wait
                    model.train()
                    return None
                x, y = batches.draw(batches.EVAL, k)  # the same batches at every evaluation
                with setup.autocast():
                    _, loss = compiled(x, y)
                losses[k] = loss.float()
            out[split] = losses.mean().item()
        model.train()
        return out

    @torch.no_grad()
    def sample() -> str:
        s = cfg.sample
        model.eval()
        # the config's prompt may hold characters the char vocabulary lacks: leave them out
        ids = [tok.stoi[c] for c in s.prompt if c in tok.stoi] if tok.kind == "char" else tok.encode(s.prompt)
        with setup.autocast():
            text = model.generate_text(tok, ids, s.max_new_tokens, s.temperature, s.top_k, s.seed)
        model.train()
        return text

    def check_window() -> tuple[list[float], list[float]]:
        """Read the window's per-step losses and grad norms (the one sync); raise on NaN/Inf."""
        losses = torch.stack(win_losses).float().tolist()
        norms = torch.stack(win_norms).float().tolist() if win_norms else []
        first = step - len(losses) + 1
        for i, v in enumerate(losses):
            if not math.isfinite(v):
                raise Diverged(f"loss became {v} at step {first + i}; the last good checkpoint is kept "
                               "(try a lower train.lr, a longer train.warmup_steps or train.grad_clip)")
        return losses, norms

    def log_point(end: bool = False) -> None:
        nonlocal win_t0, win_steps
        losses, norms = check_window()
        first = step - len(losses) + 1
        for i, (v, n) in enumerate(zip(losses, norms or [None] * len(losses), strict=True)):
            s = first + i
            if ema["loss"] is not None and s > t.warmup_steps and v > SPIKE_FACTOR * ema["loss"]:
                writer.event("spike", f"loss {v:.4f} at step {s}, running mean {ema['loss']:.4f}", step=s)
            ema["loss"] = v if ema["loss"] is None else 0.9 * ema["loss"] + 0.1 * v
            if n is not None:
                if ema["norm"] is not None and s > 10 and n > BLOWUP_FACTOR * ema["norm"]:
                    writer.event("grad_blowup", f"grad norm {n:.3g} at step {s}, running mean "
                                                f"{ema['norm']:.3g}", step=s)
                ema["norm"] = n if ema["norm"] is None else 0.9 * ema["norm"] + 0.1 * n
        win_losses.clear()
        win_norms.clear()
        now = time.time()
        values = {"train/loss": sum(losses) / len(losses), "train/lr": lr}
        if norms:
            values["train/grad_norm"] = norms[-1]
        tok_s = mfu = None
        if win_steps and now > win_t0:
            tok_s = win_steps * tokens_per_step / (now - win_t0)
            values["perf/tok_per_s"] = tok_s
            values["perf/step_ms"] = 1000 * (now - win_t0) / win_steps
            if peak:
                mfu = tok_s * fpt / (peak * 1e12)
                values["perf/mfu"] = mfu
            state["win_tokens"] = state.get("win_tokens", 0) + win_steps * tokens_per_step
            state["win_time"] = state.get("win_time", 0.0) + now - win_t0
            state["tok_per_s"] = state["win_tokens"] / state["win_time"]  # the run's mean, first step excluded
        writer.scalars(step, tokens, values)
        console.update(step, values["train/loss"], tok_s, mfu, eta(tok_s))
        win_t0, win_steps = now, 0

    def eta(tok_s: float | None) -> float | None:
        left = []
        if t.max_steps and tok_s:
            left.append((t.max_steps - step) * tokens_per_step / tok_s)
        if t.max_tokens and tok_s:
            left.append((t.max_tokens - tokens) / tok_s)
        if t.max_time:
            left.append(t.max_time - train_time)
        return max(0.0, min(left)) if left else None

    def done() -> str | None:
        if t.max_steps and step >= t.max_steps:
            return f"reached train.max_steps ({t.max_steps})"
        if t.max_tokens and tokens >= t.max_tokens:
            return f"reached train.max_tokens ({t.max_tokens:,})"
        if t.max_time and train_time >= t.max_time:
            return f"reached train.max_time ({t.max_time:g} s)"
        return None

    def do_eval() -> None:
        if win_losses:
            log_point()
        eval_t0 = time.time()
        ev = evaluate()
        if ev is None:
            return
        eval_s = time.time() - eval_t0  # evaluate() ends with .item(): the device is done
        improved = math.isfinite(ev["val"]) and (state["best_val"] is None or ev["val"] < state["best_val"])
        writer.scalars(step, tokens, {"eval/train_loss": ev["train"], "eval/val_loss": ev["val"],
                                      "perf/eval_s": eval_s})
        console.evaluated(step, ev["train"], ev["val"])
        if improved:
            state["best_val"] = ev["val"]
            if cfg.checkpoint.keep_best:
                save("best")

    def do_sample() -> None:
        sample_t0 = time.time()
        text = sample()  # ends with .tolist(): the device is done
        writer.scalars(step, tokens, {"perf/sample_s": time.time() - sample_t0})
        writer.sample(step, tokens, cfg.sample.prompt, text)

    def do_checkpoint(why: str) -> None:
        if win_losses:
            check_window_only()
        save("last")
        writer.event("checkpoint", f"{why}: {run.checkpoint('last')}", step=step)

    def check_window_only() -> None:
        losses = torch.stack(win_losses).float()
        if not bool(torch.isfinite(losses).all()):
            check_window()  # raises with the step

    # ---- the loop
    model.train()
    win_losses: list[torch.Tensor] = []
    win_norms: list[torch.Tensor] = []
    win_t0, win_steps = time.time(), 0
    first_step = True
    lr = lr_at(step, t)
    session_t0, base_time = time.time(), train_time  # max_time counts all the run's sessions
    reason = done()
    while reason is None and flag.signum is None:
        lr = lr_at(step, t)
        set_lr(optimizer, lr)
        step_t0 = time.time()
        try:
            loss_sum, norm = train_step(parts, step, t.grad_accum, t.grad_clip)
        except Exception as e:
            if first_step and setup.compile and not is_oom(e):
                raise RuntimeError(f"torch.compile failed ({type(e).__name__}: {e}); set "
                                   "system.compile = false (--set system.compile=false) to train "
                                   "without it") from e
            raise
        if norm is not None:
            win_norms.append(norm)
        step += 1
        tokens += tokens_per_step
        state["step"], state["tokens"] = step, tokens
        win_losses.append(loss_sum)
        train_time = base_time + time.time() - session_t0
        if first_step:
            # the first step (compilation, allocator warmup) is reported apart from tok/s
            first_step = False
            setup.sync()
            compile_s = time.time() - step_t0
            writer.scalars(step, tokens, {"perf/compile_s": compile_s})
            writer.event("compile", f"first step took {compile_s:.2f} s"
                                    f"{' (torch.compile)' if setup.compile else ''}", step=step)
            log_point()
            win_t0, win_steps = time.time(), 0
        else:
            win_steps += 1
            if step % t.log_interval == 0:
                log_point()
        reason = done()
        aside_t0 = time.time()  # evaluation, samples and checkpoints are kept out of tok/s
        if cfg.eval.interval and step % cfg.eval.interval == 0 and reason is None:
            do_eval()
        if cfg.sample.interval > 0 and step % cfg.sample.interval == 0 and reason is None and flag.signum is None:
            do_sample()
        if cfg.checkpoint.interval and step % cfg.checkpoint.interval == 0 and reason is None:
            do_checkpoint("interval")
        win_t0 += time.time() - aside_t0

    # ---- the end: finished (a limit) or stopped (a signal)
    if win_losses:
        log_point()
    if reason is None:
        sig = flag.signum or signal.SIGTERM
        name = signal.Signals(sig).name
        do_checkpoint(f"stopped by {name}")
        writer.event("stop", f"stopped by {name} at step {step}", step=step)
        console.message(f"stopped by {name} at step {step}; checkpoint saved")
        res = Result("stopped", f"stopped by {name} at step {step}", signum=sig)
        return res
    do_eval()
    if cfg.sample.interval >= 0 and flag.signum is None:
        do_sample()
    do_checkpoint("end")
    return Result("finished", reason)
