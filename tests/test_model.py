"""Models: shapes, loss at init, parameter counts, every experiment file builds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from workbench.config import Config, load_config
from workbench.errors import WorkbenchError
from workbench.model import GPT, Bigram, build_model, configure_optimizer
from workbench.schedule import lr_at

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted((ROOT / "experiments").rglob("*.toml"))


def small(**model) -> Config:
    cfg = Config()
    m = cfg.model
    m.n_layer, m.n_head, m.n_embd, m.block_size, m.dropout = 2, 2, 32, 16, 0.0
    for k, v in model.items():
        setattr(m, k, v)
    return cfg


def test_gpt_shapes_and_generate():
    torch.manual_seed(0)
    model = build_model(small().model, 65)
    x = torch.randint(0, 65, (3, 16))
    logits, loss = model(x, x)
    assert logits.shape == (3, 16, 65)  # padded vocab rows are cut off
    assert model.padded_vocab == 128
    logits, loss = model(x)
    assert logits.shape == (3, 1, 65) and loss is None
    g = torch.Generator().manual_seed(1)
    out = model.generate(x[:, :4], 20, temperature=0.8, top_k=10, generator=g)
    assert out.shape == (3, 24) and int(out.max()) < 65
    g = torch.Generator().manual_seed(1)
    assert torch.equal(out, model.generate(x[:, :4], 20, temperature=0.8, top_k=10, generator=g))


@pytest.mark.parametrize("kind,vocab", [("gpt", 65), ("gpt", 50257), ("bigram", 65)])
def test_loss_at_init_is_ln_vocab(kind, vocab):
    torch.manual_seed(0)
    model = build_model(small(kind=kind).model, vocab)
    x = torch.randint(0, vocab, (4, 16))
    _, loss = model(x, torch.randint(0, vocab, (4, 16)))
    assert abs(loss.item() - math.log(vocab)) < 0.1


def test_sdpa_and_manual_attention_agree():
    torch.manual_seed(0)
    a = build_model(small(attention="sdpa").model, 65)
    b = build_model(small(attention="manual").model, 65)
    b.load_state_dict(a.state_dict())
    x = torch.randint(0, 65, (2, 16))
    assert torch.allclose(a(x, x)[0], b(x, x)[0], atol=1e-5)


def test_param_counts():
    model = build_model(small(vocab_multiple=1).model, 65)
    c = model.param_counts()
    wte, wpe = 65 * 32, 16 * 32
    assert c["total"] == sum(p.numel() for p in model.parameters())
    assert c["non_embedding"] == c["total"] - wte - wpe
    assert c["flops"] == c["total"] - wpe  # tied: lm_head is the token embedding
    untied = build_model(small(vocab_multiple=1, tie_weights=False).model, 65).param_counts()
    assert untied["total"] == c["total"] + wte
    assert untied["flops"] == untied["non_embedding"] == untied["total"] - wte - wpe
    assert Bigram(small().model, 65).param_counts() == {"total": 65 * 65, "non_embedding": 0, "flops": 65 * 65}


def test_gpt2_124m_on_meta():
    cfg = load_config(ROOT / "experiments" / "gpt2-124m.toml")
    with torch.device("meta"):
        model = build_model(cfg.model, 50257)
    c = model.param_counts()
    assert c["total"] == 124_373_760  # nanoGPT's GPT-2 small with the vocab padded to 50304
    assert c["non_embedding"] == 84_953_856  # 12 blocks of 7,079,424 plus the final norm


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT / "experiments")))
def test_every_experiment_builds(path):
    cfg = load_config(path)
    vocab = 50257 if cfg.data.tokenizer == "gpt2" else 65
    with torch.device("meta"):
        model = build_model(cfg.model, vocab)
    c = model.param_counts()
    assert 0 <= c["non_embedding"] <= c["flops"] <= c["total"]


def test_ladder_rungs():
    ladder = {p.stem: load_config(p) for p in (ROOT / "experiments" / "ladder").glob("*.toml")}
    assert isinstance(build_model(ladder["1-bigram"].model, 65), Bigram)
    one = build_model(ladder["2-one-head"].model, 65)
    assert isinstance(one, GPT) and one.blocks[0].attn.proj is None and one.blocks[0].ffn is None
    multi = build_model(ladder["3-multi-head"].model, 65)
    assert multi.n_head == 4 and multi.head_size == 8
    ffn = build_model(ladder["4-feed-forward"].model, 65).blocks[0].ffn
    assert ffn.proj is None and ffn.fc.out_features == 32 and isinstance(ffn.act, torch.nn.ReLU)
    five = build_model(ladder["5-blocks"].model, 65)
    assert len(five.blocks) == 3 and five.blocks[0].residual and five.blocks[0].ffn.fc.out_features == 128
    assert isinstance(five.ln_f, torch.nn.Identity)
    assert isinstance(build_model(ladder["6-layernorm"].model, 65).ln_f, torch.nn.LayerNorm)
    for name, cfg in ladder.items():
        torch.manual_seed(0)
        model = build_model(cfg.model, 65)
        x = torch.randint(0, 65, (2, min(8, cfg.model.block_size)))
        _, loss = model(x, x)
        if cfg.model.init == "gpt2":
            assert abs(loss.item() - math.log(65)) < 0.2, name
        else:  # PyTorch's default init starts above ln(vocab), as in the lecture (bigram: ~4.9)
            assert math.log(65) - 0.1 < loss.item() < 6.5, (name, loss.item())


def test_ffn_without_projection_needs_mult_1():
    with pytest.raises(WorkbenchError, match="ffn_mult"):
        build_model(small(ffn_proj=False, ffn_mult=4).model, 65)


def test_head_size_and_projection():
    model = build_model(small(n_head=4, head_size=4, n_embd=32).model, 65)
    attn = model.blocks[0].attn
    assert attn.qkv.out_features == 3 * 16 and attn.proj.in_features == 16
    x = torch.randint(0, 65, (2, 8))
    assert model(x, x)[0].shape == (2, 8, 65)


def test_residual_projections_scaled_init():
    torch.manual_seed(0)
    model = build_model(small(n_layer=8, n_embd=256, n_head=4).model, 65)
    std = model.blocks[0].attn.proj.weight.std().item()
    assert abs(std - 0.02 / math.sqrt(16)) < 0.001
    assert abs(model.blocks[0].attn.qkv.weight.std().item() - 0.02) < 0.002


def test_optimizer_groups():
    model = build_model(small(bias=True).model, 65)
    opt = configure_optimizer(model, 0.1, 1e-3, (0.9, 0.95), fused=False)
    decay, no_decay = opt.param_groups
    assert all(p.dim() == 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    # nanoGPT's grouping: every 2-D tensor decays, the position embedding too
    assert no_decay["weight_decay"] == 0.0 and all(p.dim() == 1 for p in no_decay["params"])
    assert any(p is model.wpe.weight for p in decay["params"])
    assert model.lm_head.bias is None  # GPT-2 has no lm_head bias, even with model.bias
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == model.param_counts()["total"]


def test_schedule():
    t = Config().train
    t.lr, t.min_lr, t.warmup_steps, t.max_steps, t.decay_steps = 1.0, 0.1, 10, 100, 0
    assert lr_at(0, t) < lr_at(9, t) < 1.0
    assert lr_at(10, t) == pytest.approx(1.0)
    assert lr_at(55, t) == pytest.approx(0.55)
    assert lr_at(100, t) == pytest.approx(0.1) and lr_at(500, t) == pytest.approx(0.1)
    t.schedule = "constant"
    assert lr_at(80, t) == 1.0
