"""nanoGPT checkpoints in: `workbench import ckpt.pt` makes a run from nanoGPT's `ckpt.pt`.

nanoGPT (github.com/karpathy/nanoGPT) saves {"model", "optimizer", "model_args",
"iter_num", "best_val_loss", "config"}: a pickle, read here with
torch.load(weights_only=True) only (tensors, numbers, strings, dicts), so a file that
holds anything else is refused, never run. Its model is workbench's GPT with every
switch on; only the names differ:

    transformer.wte / wpe / ln_f      wte / wpe / ln_f
    transformer.h.N.                  blocks.N.
    attn.c_attn, attn.c_proj          attn.qkv, attn.proj
    mlp.c_fc, mlp.c_proj              ffn.fc, ffn.proj

A compiled model's `_orig_mod.` prefix and the causal-mask buffers of nanoGPT's
non-flash attention are dropped; the vocabulary rows are padded (or cut) to
`model.vocab_multiple`. The run it makes holds a workbench checkpoint at step
`iter_num` with the optimizer state when the file has it, and ends as "stopped":
`workbench resume` continues it (at max_steps it evaluates, samples and finishes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.config import Config, apply_overrides, check_raw, from_dict
from workbench.config_checks import check_runnable
from workbench.errors import WorkbenchError
from workbench.formats.hf_gpt2 import GPT2_VOCAB

RENAMES = (("transformer.h.", "blocks."), ("transformer.", ""), (".attn.c_attn.", ".attn.qkv."),
           (".attn.c_proj.", ".attn.proj."), (".mlp.c_fc.", ".ffn.fc."), (".mlp.c_proj.", ".ffn.proj."))
# nanoGPT's data/<name>/prepare.py datasets that workbench has built in
DATASETS = {"shakespeare_char": {"dataset": "tinyshakespeare", "tokenizer": "char"},
            "shakespeare": {"dataset": "tinyshakespeare", "tokenizer": "gpt2"}}
VOCAB_ROWS = ("wte.weight", "lm_head.weight")


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's dict, loaded with weights_only=True; WorkbenchError if it is not one."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"{path}: no such file")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        if "Unsupported global" in str(e):
            raise WorkbenchError(f"{path}: refused: it holds Python objects, not only tensors, numbers, "
                                 "strings and dicts, so it is not loaded (nanoGPT's own checkpoints "
                                 "hold only those)") from None
        raise WorkbenchError(f"{path}: cannot read it as a PyTorch checkpoint ({type(e).__name__})") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("model"), dict) or not isinstance(ck.get("model_args"), dict):
        raise WorkbenchError(f"{path}: not a nanoGPT checkpoint (no 'model' and 'model_args'); "
                             "`workbench import` reads nanoGPT's ckpt.pt and run archives (.tar.gz)")
    return ck


def rename(key: str) -> str:
    key = key.removeprefix("_orig_mod.")
    for old, new in RENAMES:
        key = key.replace(old, new)
    return key


def weights(sd: dict) -> dict:
    """nanoGPT's state dict by workbench name, without the causal-mask buffers."""
    out = {rename(k): v for k, v in sd.items()}
    return {k: v for k, v in out.items() if not (k.endswith(".attn.bias") and v.dim() == 4)}


def _number(c: dict, key: str, kind: type):
    v = c.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return kind(v)


def to_config(ck: dict, name: str, where: str, overrides: list[str] | tuple = ()) -> Config:
    """The run's config: model_args for the model, nanoGPT's train.py settings for the rest."""
    a, c = ck["model_args"], ck.get("config") if isinstance(ck.get("config"), dict) else {}
    try:
        rows = int(a.get("vocab_size") or 0)
        model = {"n_layer": int(a["n_layer"]), "n_head": int(a["n_head"]), "n_embd": int(a["n_embd"]),
                 "block_size": int(a["block_size"]), "bias": bool(a.get("bias", False)),
                 "dropout": float(a.get("dropout", 0.0)), "kind": "gpt", "tie_weights": True}
    except (KeyError, TypeError, ValueError) as e:
        raise WorkbenchError(f"{where}: model_args lacks a usable {e}; not a nanoGPT checkpoint") from None
    train = {"batch_size": _number(c, "batch_size", int), "grad_accum": _number(c, "gradient_accumulation_steps", int),
             "max_steps": _number(c, "max_iters", int), "lr": _number(c, "learning_rate", float),
             "min_lr": _number(c, "min_lr", float), "warmup_steps": _number(c, "warmup_iters", int),
             "decay_steps": _number(c, "lr_decay_iters", int), "weight_decay": _number(c, "weight_decay", float),
             "beta1": _number(c, "beta1", float), "beta2": _number(c, "beta2", float),
             "grad_clip": _number(c, "grad_clip", float), "log_interval": _number(c, "log_interval", int)}
    if c.get("decay_lr") is False:  # nanoGPT then uses learning_rate throughout, no warmup
        train.update(schedule="constant", warmup_steps=0, min_lr=train["lr"])
    evals = {"interval": _number(c, "eval_interval", int), "batches": _number(c, "eval_iters", int)}
    dataset = str(c.get("dataset", ""))
    data = dict(DATASETS.get(dataset) or {"tokenizer": "gpt2" if rows >= GPT2_VOCAB else "char"})
    d = {"experiment": {"name": name, "description": f"imported from nanoGPT {where}"
                                                     + (f" (dataset {dataset})" if dataset else "")},
         "data": data, "model": model,
         "train": {k: v for k, v in train.items() if v is not None},
         "eval": {k: v for k, v in evals.items() if v is not None},
         "checkpoint": {} if evals["interval"] is None else {"interval": evals["interval"]}}
    d = apply_overrides(check_raw(where, d), overrides)
    named = d["data"].get("dataset") or d["data"].get("train_bin")
    if dataset not in DATASETS and not named and d["data"]["tokenizer"] == "char":
        raise WorkbenchError(f"{where}: trained on nanoGPT's {dataset or 'unknown'!r} characters, whose "
                             "vocabulary is not in the checkpoint: name the text it was prepared from with "
                             "--set data.dataset=PATH/input.txt")
    if dataset not in DATASETS and not named:  # never evaluate on other data without saying so
        raise WorkbenchError(f"{where}: trained on nanoGPT's {dataset or 'unknown'!r} data: name it with "
                             "--set data.train_bin=PATH/train.bin --set data.val_bin=PATH/val.bin (nanoGPT's "
                             "data/<dataset>/ folder), or --set data.dataset=tinyshakespeare to use the built-in text")
    return from_dict(d, where=where)


def check_fit(mine: dict, ours: dict, what: str) -> None:
    """Converted weights name and shape exactly the model's parameters, or a one-line error."""
    missing, extra = sorted(set(mine) - set(ours)), sorted(set(ours) - set(mine))
    if missing or extra:
        raise WorkbenchError(f"{what} do not fit the model: missing {missing[:4]}, unexpected {extra[:4]}")
    for k, v in ours.items():
        if v.shape != mine[k].shape:
            raise WorkbenchError(f"{what}: {k} is {tuple(v.shape)}, the model's {tuple(mine[k].shape)}")


def pad_rows(t, rows: int):
    """A vocabulary tensor padded with zero rows (or cut: rows past the tokenizer's vocabulary
    are never used) to `rows`."""
    import torch

    if t.size(0) >= rows:
        return t[:rows].clone()
    return torch.cat([t, t.new_zeros((rows - t.size(0), *t.shape[1:]))])


def convert_model(sd: dict, model) -> dict:
    """nanoGPT's weights renamed and padded into `model`'s state dict."""
    import torch

    w = weights(sd)
    if "lm_head.weight" in w and not torch.equal(w["lm_head.weight"], w.get("wte.weight")):
        raise WorkbenchError("the checkpoint's lm_head differs from its token embedding; nanoGPT ties "
                             "them, so this is not a nanoGPT GPT")
    rows = model.wte.weight.size(0)
    for k in VOCAB_ROWS:
        if k in w:
            w[k] = pad_rows(w[k], rows)
    check_fit(model.state_dict(), w, "the checkpoint's weights (model_args)")
    return w


def convert_optimizer(opt_sd: dict, sd: dict, model, optimizer) -> dict:
    """nanoGPT's AdamW state re-indexed onto `optimizer` (whose groups are workbench's, the
    same as nanoGPT's: every 2-D tensor decays). nanoGPT numbers its parameters in its
    groups' order over named_parameters(), where the tied lm_head is not listed."""
    w = weights(sd)
    names = [k for k in w if k != "lm_head.weight"]
    nano_order = [k for k in names if w[k].dim() >= 2] + [k for k in names if w[k].dim() < 2]
    nano_ids = [i for g in opt_sd.get("param_groups", []) for i in g["params"]]
    if len(nano_ids) != len(nano_order):
        raise WorkbenchError(f"the checkpoint's optimizer holds {len(nano_ids)} parameters, its model "
                             f"{len(nano_order)}; import it without the optimizer state (--no-optimizer)")
    by_param = {id(p): n for n, p in model.named_parameters()}
    ours = [by_param[id(p)] for g in optimizer.param_groups for p in g["params"]]
    index = {n: i for i, n in enumerate(ours)}
    params = dict(model.named_parameters())
    state = {}
    for nano_id, name in zip(nano_ids, nano_order):
        if nano_id not in opt_sd["state"]:
            continue  # never stepped
        s = dict(opt_sd["state"][nano_id])
        for k in ("exp_avg", "exp_avg_sq"):
            if k in s and name in VOCAB_ROWS:
                s[k] = pad_rows(s[k], params[name].size(0))
            if k in s and s[k].shape != params[name].shape:
                raise WorkbenchError(f"the optimizer state of {name} does not fit the model")
        state[index[name]] = s
    return {"state": state, "param_groups": optimizer.state_dict()["param_groups"]}


def import_checkpoint(path: str | Path, store, name: str | None = None, overrides: list[str] | tuple = (),
                      optimizer_state: bool = True):
    """Make a run in `store` from a nanoGPT checkpoint; returns the Run and its step."""
    import torch

    from workbench.step import build

    where = str(path)
    ck = read_checkpoint(path)
    dataset = ck.get("config", {}).get("dataset", "") if isinstance(ck.get("config"), dict) else ""
    cfg = to_config(ck, name or f"nanogpt-{dataset or 'import'}", where, overrides)
    check_runnable(cfg, where)
    parts = build(cfg)
    tok, rows = parts.ds.tokenizer, int(ck["model_args"].get("vocab_size") or 0)
    if rows < tok.vocab_size or (tok.kind == "char" and rows != tok.vocab_size):
        raise WorkbenchError(f"{where}: the model has {rows} vocabulary rows, the data's {tok.kind} "
                             f"tokenizer {tok.vocab_size} tokens; name the data it was trained on with "
                             "--set data.dataset=… (or data.train_bin/val_bin)")
    parts.model.load_state_dict(convert_model(ck["model"], parts.model))
    has_opt = optimizer_state and isinstance(ck.get("optimizer"), dict)
    if has_opt:
        parts.optimizer.load_state_dict(convert_optimizer(ck["optimizer"], ck["model"], parts.model,
                                                          parts.optimizer))
    step = int(ck.get("iter_num", 0))
    best = ck.get("best_val_loss")
    best = float(best) if isinstance(best, (int, float, torch.Tensor)) else None
    best = best if best is not None and best < 1e8 else None  # nanoGPT starts from 1e9
    run = store.create_run(store.new_run_id(cfg.experiment.name), cfg)
    try:
        save_checkpoint(run, cfg, parts, step, step * parts.tokens_per_step, best)
        run.update_info(params=parts.counts["total"], params_no_embedding=parts.counts["non_embedding"],
                        torch_version=torch.__version__)
        with run.writer() as writer:
            writer.event("import", f"imported from nanoGPT {where} at iter {step}"
                                   + (f", its best val loss {best:.4f}" if best is not None else "")
                                   + ("" if has_opt else ", without optimizer state"), step=step)
        run.mark_ended("stopped", f"imported from nanoGPT at iter {step}")
    except BaseException:
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run, step


def save_checkpoint(run, cfg: Config, parts, step: int, tokens: int, best_val: float | None) -> None:
    """checkpoints/last.pt as the trainer writes it, so `workbench resume` continues the run."""
    from workbench import checkpoint
    from workbench.train_state import TrainState

    st = TrainState(parts.model, parts.optimizer, parts.scaler, step=step, tokens=tokens, best_val=best_val)
    checkpoint.save_run(run.checkpoints_dir / "last.pt", st.state_dict(), cfg, parts.ds.tokenizer)
