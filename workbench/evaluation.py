"""Evaluation and sampling of a model being trained: plain functions over step.Parts, used
by the training loop (trainer.py), which records what they return."""

from __future__ import annotations

import torch

from workbench.config import Config
from workbench.outcome import StopFlag
from workbench.step import Parts


@torch.no_grad()
def evaluate(p: Parts, cfg: Config, flag: StopFlag) -> dict[str, float] | None:
    """Mean loss on eval.batches batches of each split, each rank taking every world_size-th
    batch; None when a signal cut it short (one process only: ranks must all finish it)."""
    p.model.eval()
    out = {}
    d = p.dist
    for split, batches in (("train", p.train_batches), ("val", p.val_batches)):
        total = torch.zeros(2, device=p.setup.device)  # loss sum, batches
        for k in range(d.rank, cfg.eval.batches, d.world_size):
            if flag.signum is not None and d.world_size == 1:  # stop promptly: not worth the wait
                p.model.train()
                return None
            x, y = batches.draw(batches.EVAL, k)  # the same batches at every evaluation
            with p.setup.autocast():
                _, loss = p.compiled(x, y)
            total[0] += loss.float()
            total[1] += 1
        d.all_reduce_sum(total)
        out[split] = (total[0] / total[1]).item()
    p.model.train()
    return out


@torch.no_grad()
def sample(p: Parts, cfg: Config) -> str:
    sc, tok = cfg.sample, p.ds.tokenizer
    p.model.eval()
    # the config's prompt may hold characters the char vocabulary lacks: leave them out
    ids = [tok.stoi[c] for c in sc.prompt if c in tok.stoi] if tok.kind == "char" else tok.encode(sc.prompt)
    with p.setup.autocast():
        text = p.model.generate_text(tok, ids, sc.max_new_tokens, sc.temperature, sc.top_k, sc.seed)
    p.model.train()
    return text
