"""Checkpoints to look inside: a tiny char GPT at init and after a few real optimizer steps.

Deterministic (fixed seeds, CPU), so the attention tests and the inspect screen's snapshots
see the same numbers every time. Written in the trainer's weights-only layout (model,
config, tokenizer, step) without running the trainer, which keeps these tests fast.
"""

from __future__ import annotations

import string

import torch

from workbench import checkpoint
from workbench.checkpoint_files import step_name
from workbench.config import Config
from workbench.data import CharTokenizer
from workbench.model import build_model

TEXT = "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. " * 8
CHARS = "".join(sorted(set(string.ascii_letters + " \n,.:;!?'-")))


def tiny_config(pos_emb: bool = True, **model) -> Config:
    cfg = Config()
    m = cfg.model
    m.n_layer, m.n_head, m.n_embd, m.block_size, m.dropout, m.pos_emb = 2, 2, 32, 32, 0.0, pos_emb
    for k, v in model.items():
        setattr(m, k, v)
    cfg.system.device = "cpu"
    return cfg


def write_checkpoints(folder, cfg: Config, steps: int = 12, keep: tuple[int, ...] = (6,)) -> None:
    """init.pt, step-N.pt for N in `keep`, and last.pt (also as best.pt) after `steps` steps."""
    tok = CharTokenizer(CHARS)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model, tok.vocab_size)
    data = torch.tensor(tok.encode(TEXT))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    T = cfg.model.block_size

    def save(name: str, step: int) -> None:
        checkpoint.save(folder / f"{name}.pt", {"model": model.state_dict(), "config": cfg.to_dict(),
                                                "tokenizer": tok.state(), "step": step})

    folder.mkdir(parents=True, exist_ok=True)
    save("init", 0)
    for step in range(1, steps + 1):
        i = torch.randint(0, len(data) - T - 1, (8,), generator=g)
        x = torch.stack([data[j:j + T] for j in i])
        y = torch.stack([data[j + 1:j + T + 1] for j in i])
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in keep:
            save(step_name(step), step)
    save("best", steps)
    save("last", steps)
