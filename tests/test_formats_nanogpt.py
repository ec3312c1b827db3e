"""`workbench import ckpt.pt`: a nanoGPT checkpoint, built here by hand with nanoGPT's names,
becomes a run whose model gives nanoGPT's logits and which samples and resumes."""

from __future__ import annotations

import json

import pytest
import torch
from torch.nn import functional as F

from workbench import checkpoint
from workbench.cli import main
from workbench.store import RunStore

ARGS = {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16, "bias": True, "vocab_size": 65,
        "dropout": 0.0}


def nanogpt_state_dict(seed: int = 0) -> dict:
    """Random weights under the keys nanoGPT's GPT (compiled: `_orig_mod.`) saves, the
    causal-mask buffer of its non-flash attention included."""
    g = torch.Generator().manual_seed(seed)
    C, V, T = ARGS["n_embd"], ARGS["vocab_size"], ARGS["block_size"]

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.1

    sd = {"transformer.wte.weight": r(V, C), "transformer.wpe.weight": r(T, C)}
    for i in range(ARGS["n_layer"]):
        h = f"transformer.h.{i}."
        sd.update({h + "ln_1.weight": 1 + r(C), h + "ln_1.bias": r(C),
                   h + "attn.bias": torch.tril(torch.ones(T, T)).view(1, 1, T, T),
                   h + "attn.c_attn.weight": r(3 * C, C), h + "attn.c_attn.bias": r(3 * C),
                   h + "attn.c_proj.weight": r(C, C), h + "attn.c_proj.bias": r(C),
                   h + "ln_2.weight": 1 + r(C), h + "ln_2.bias": r(C),
                   h + "mlp.c_fc.weight": r(4 * C, C), h + "mlp.c_fc.bias": r(4 * C),
                   h + "mlp.c_proj.weight": r(C, 4 * C), h + "mlp.c_proj.bias": r(C)})
    sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"] = 1 + r(C), r(C)
    sd["lm_head.weight"] = sd["transformer.wte.weight"]  # tied, as nanoGPT saves it
    return {"_orig_mod." + k: v for k, v in sd.items()}


def nanogpt_logits(sd: dict, idx: torch.Tensor) -> torch.Tensor:
    """nanoGPT's GPT.forward (model.py), written out with its own names."""
    w = {k.removeprefix("_orig_mod.transformer.").removeprefix("_orig_mod."): v for k, v in sd.items()}
    C, nh = ARGS["n_embd"], ARGS["n_head"]
    B, T = idx.shape
    x = w["wte.weight"][idx] + w["wpe.weight"][:T]
    for i in range(ARGS["n_layer"]):
        p = f"h.{i}."
        h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        q, k, v = F.linear(h, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"]).split(C, dim=2)
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (C // nh) ** 0.5
        att = att.masked_fill(w[p + "attn.bias"][:, :, :T, :T] == 0, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
        h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        h = F.gelu(F.linear(h, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]))
        x = x + F.linear(h, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], 1e-5)
    return F.linear(x, w["lm_head.weight"])


def nanogpt_optimizer(sd: dict) -> dict:
    """AdamW as nanoGPT's configure_optimizers builds it (2-D tensors decay), after one step."""
    params = {k: v.clone().requires_grad_() for k, v in sd.items()
              if not k.endswith(".attn.bias") and not k.endswith("lm_head.weight")}
    groups = [{"params": [p for p in params.values() if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params.values() if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(1)
    for p in params.values():
        p.grad = torch.randn(p.shape, generator=g)
    opt.step()
    return opt.state_dict()


def write_ckpt(path, optimizer: bool = True) -> dict:
    sd = nanogpt_state_dict()
    ck = {"model": sd, "model_args": dict(ARGS), "iter_num": 30, "best_val_loss": torch.tensor(1.875),
          "config": {"dataset": "shakespeare_char", "batch_size": 4, "block_size": 16, "max_iters": 30,
                     "learning_rate": 1e-3, "min_lr": 1e-4, "warmup_iters": 5, "lr_decay_iters": 30,
                     "decay_lr": True, "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.99, "grad_clip": 1.0,
                     "eval_interval": 30, "eval_iters": 2, "log_interval": 10,
                     "gradient_accumulation_steps": 1, "dropout": 0.0, "bias": True, "dtype": "float32",
                     "compile": False, "out_dir": "out-shakespeare-char", "init_from": "scratch"}}
    if optimizer:
        ck["optimizer"] = nanogpt_optimizer(sd)
    torch.save(ck, path)
    return ck


@pytest.fixture
def imported(tmp_path, capsys):
    ck = write_ckpt(tmp_path / "ckpt.pt")
    runs = str(tmp_path / "runs")
    rc = main(["import", str(tmp_path / "ckpt.pt"), "--runs-dir", runs, "--set", "system.device=cpu",
               "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "sample.max_new_tokens=8"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    (run,) = RunStore(runs).runs()
    assert f"as {run.id}" in out and "stopped at step 30" in out
    return ck, run, runs


def test_import_gives_nanogpts_logits(imported):
    ck, run, _ = imported
    model, tok, cfg = checkpoint.load_model(run.checkpoint("last"))
    assert (cfg.model.n_layer, cfg.model.bias, cfg.train.max_steps, cfg.data.tokenizer) == (2, True, 30, "char")
    assert tok.vocab_size == 65 and model.wte.weight.shape[0] == 128  # padded to vocab_multiple 64
    idx = torch.randint(0, 65, (2, 16), generator=torch.Generator().manual_seed(3))
    logits, _ = model(idx, idx)  # with targets: every position's logits, padded rows cut off
    torch.testing.assert_close(logits, nanogpt_logits(ck["model"], idx), atol=1e-5, rtol=1e-5)

    saved = checkpoint.load(run.checkpoint("last"))
    assert saved["step"] == 30 and saved["best_val"] == pytest.approx(1.875)
    # nanoGPT's AdamW state on the same parameters: its index 2 is h.0's c_attn (after wte, wpe)
    names = [n for n, p in model.named_parameters() if p.dim() >= 2]
    assert names[2] == "blocks.0.attn.qkv.weight"
    nano_state, ours = ck["optimizer"]["state"], saved["optimizer"]["state"]
    assert torch.equal(ours[2]["exp_avg_sq"], nano_state[2]["exp_avg_sq"])
    assert torch.equal(ours[0]["exp_avg"][:65], nano_state[0]["exp_avg"])  # wte, padded with zeros
    assert not ours[0]["exp_avg"][65:].any()
    info = json.loads(run.info_path.read_text())
    assert info["status"] == "stopped" and info["reason"] == "imported from nanoGPT at iter 30"
    assert [e.kind for e in run.reader().events()] == ["import"]


def test_imported_run_samples_and_resumes(imported, capsys):
    _, run, runs = imported
    assert main(["sample", run.id, "--runs-dir", runs, "--tokens", "5", "--prompt", "KING"]) == 0
    assert capsys.readouterr().out.startswith("KING")
    # at max_steps a resume evaluates, samples and finishes; with more steps it trains on
    assert main(["run", "--resume", run.id, "--runs-dir", runs, "--set", "train.max_steps=32"]) == 0
    r = run.reader()
    assert run.info().status == "finished"
    assert r.last("eval/val_loss").step == 32 and r.last("train/loss").step == 32


def test_import_refuses_pickled_objects(tmp_path, capsys):
    torch.save({"model": {}, "model_args": {}, "trap": torch.optim.SGD}, tmp_path / "evil.pt")
    rc = main(["import", str(tmp_path / "evil.pt"), "--runs-dir", str(tmp_path / "runs")])
    assert rc == 2 and "refused" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_import_without_optimizer_and_unknown_chars(tmp_path, capsys):
    ck = write_ckpt(tmp_path / "ckpt.pt", optimizer=False)
    ck["config"]["dataset"] = "my_chars"
    torch.save(ck, tmp_path / "mine.pt")
    runs = str(tmp_path / "runs")
    assert main(["import", str(tmp_path / "mine.pt"), "--runs-dir", runs]) == 2
    assert "--set data.dataset=" in capsys.readouterr().err
    ck["model_args"]["vocab_size"], ck["config"]["dataset"] = 50304, "openwebtext"
    torch.save(ck, tmp_path / "owt.pt")
    assert main(["import", str(tmp_path / "owt.pt"), "--runs-dir", runs]) == 2
    assert "--set data.train_bin=" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "ckpt.pt"), "--from", "nanogpt", "--runs-dir", runs,
                 "--name", "mine", "--set", "system.device=cpu",
                 "--set", f"data.cache_dir={tmp_path / 'cache'}"]) == 0
    (run,) = RunStore(runs).runs()
    assert run.id.startswith("mine-") and checkpoint.load(run.checkpoint("last"))["optimizer"]["state"] == {}
