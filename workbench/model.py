"""The models: a bigram table and a GPT whose parts can be switched off.

Every switch is a key in the [model] section, so the ladder from a bigram table to a
transformer (Karpathy's "Let's build GPT") is a set of config files:

    bigram          token -> next-token logits table
    one head        token + position embeddings, one attention head, lm head
    multi-head      n_head heads of head_size, concatenated
    feed-forward    + a Linear(n_embd, n_embd) + activation (ffn_mult 1, ffn_proj off)
    blocks          n_layer blocks, residual connections, attention and ffn projections
    layernorm       pre-norm LayerNorm in each block and before the lm head
    scaled          wider, deeper, longer context, dropout

With every switch on this is nanoGPT's GPT. Init: normal(0, 0.02), the projections
that write into the residual stream scaled by 1/sqrt(2 * n_layer).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.nn import functional as F

from workbench.errors import WorkbenchError
from workbench.sizing import check_weights_fit, padded_vocab


class CausalSelfAttention(nn.Module):
    def __init__(self, m, head_size: int):
        super().__init__()
        self.n_head, self.head_size = m.n_head, head_size
        width = m.n_head * head_size  # the heads concatenated
        self.qkv = nn.Linear(m.n_embd, 3 * width, bias=m.bias)
        self.proj = nn.Linear(width, m.n_embd, bias=m.bias) if m.attn_proj else None
        self.dropout = m.dropout
        self.attn_dropout = nn.Dropout(m.dropout)
        self.resid_dropout = nn.Dropout(m.dropout)
        self.manual = m.attention == "manual"
        if self.manual:
            mask = torch.tril(torch.ones(m.block_size, m.block_size, dtype=torch.bool))
            self.register_buffer("mask", mask.view(1, 1, m.block_size, m.block_size), persistent=False)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, _ = x.size()
        q, k, v = self.qkv(x).split(self.n_head * self.head_size, dim=2)
        q = q.view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, self.head_size).transpose(1, 2)
        v = v.view(B, T, self.n_head, self.head_size).transpose(1, 2)
        return q, k, v

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights (B, nh, T, T) for input x, from this layer's own q and k.
        Only for inspection: the fused path never materializes them, so they are recomputed
        here (the same masked softmax as the manual path) and training never pays for it."""
        q, k, _ = self.heads(x)
        T = x.size(1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_size))
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        return F.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.size()
        q, k, v = self.heads(x)
        if self.manual:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_size))
            att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
            att = self.attn_dropout(F.softmax(att, dim=-1))
            y = att @ v
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, self.n_head * self.head_size)
        if self.proj is not None:
            y = self.resid_dropout(self.proj(y))
        return y


class FeedForward(nn.Module):
    def __init__(self, m):
        super().__init__()
        hidden = m.ffn_mult * m.n_embd
        self.fc = nn.Linear(m.n_embd, hidden, bias=m.bias)
        self.act = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}[m.activation]
        self.proj = nn.Linear(hidden, m.n_embd, bias=m.bias) if m.ffn_proj else None
        self.dropout = nn.Dropout(m.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc(x))
        if self.proj is not None:
            x = self.proj(x)
        return self.dropout(x)


class Block(nn.Module):
    def __init__(self, m, head_size: int):
        super().__init__()
        self.residual = m.residual
        norm = (lambda: nn.LayerNorm(m.n_embd, bias=m.bias)) if m.layernorm else nn.Identity
        self.ln_1 = norm()
        self.attn = CausalSelfAttention(m, head_size)
        self.ln_2 = norm() if m.ffn else None
        self.ffn = FeedForward(m) if m.ffn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(self.ln_1(x))
        x = x + a if self.residual else a
        if self.ffn is not None:
            f = self.ffn(self.ln_2(x))
            x = x + f if self.residual else f
        return x


class LanguageModel(nn.Module):
    """What the trainer and `sample` rely on: forward(idx, targets), generate, param_counts."""

    vocab_size: int
    block_size: int

    def forward(self, idx, targets=None):  # pragma: no cover - overridden
        raise NotImplementedError

    def _logits_and_loss(self, logits: torch.Tensor, targets: torch.Tensor | None):
        if logits.size(-1) != self.vocab_size:
            logits = logits[..., :self.vocab_size]  # padded rows never win a softmax
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append max_new_tokens sampled tokens to idx (B, T); the context is cropped to block_size."""
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :].float() / temperature
            if top_k:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = float("-inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx

    @torch.no_grad()
    def generate_text(self, tok, ids: list[int], max_new_tokens: int, temperature: float,
                      top_k: int, seed: int) -> str:
        """Continue the prompt's token ids (none: token 0) from a fixed seed, so samples at
        different steps are comparable; returns only the new text. Used by the trainer's
        samples and by `workbench sample`."""
        device = next(self.parameters()).device
        ids = ids or [0]
        g = torch.Generator(device=device).manual_seed(seed)
        idx = torch.tensor([ids], dtype=torch.long, device=device)
        out = self.generate(idx, max_new_tokens, temperature, top_k or None, generator=g)
        return tok.decode(out[0, len(ids):].tolist())


class Bigram(LanguageModel):
    """The next token's logits are a row of a table looked up by the current token."""

    def __init__(self, m, vocab_size: int):
        super().__init__()
        self.vocab_size, self.block_size, self.n_layer = vocab_size, m.block_size, 0
        self.table = nn.Embedding(vocab_size, vocab_size)
        if m.init == "gpt2":
            nn.init.normal_(self.table.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        return self._logits_and_loss(self.table(idx), targets)

    def param_counts(self) -> dict[str, int]:
        n = self.table.weight.numel()
        # the table is both embedding and lm head: it counts for FLOPs like an lm head
        return {"total": n, "non_embedding": 0, "flops": n}


class GPT(LanguageModel):
    def __init__(self, m, vocab_size: int):
        super().__init__()
        head_size = m.head_size or m.n_embd // m.n_head
        if m.ffn and not m.ffn_proj and m.ffn_mult != 1:
            raise WorkbenchError(
                f"'model.ffn_proj' is off, so the feed-forward is one Linear(n_embd, ffn_mult * n_embd) "
                f"whose output must be n_embd wide: set 'model.ffn_mult' to 1 (it is {m.ffn_mult}) "
                "or turn 'model.ffn_proj' on")
        if not m.attn_proj and m.n_head * head_size != m.n_embd:
            raise WorkbenchError(
                f"without 'model.attn_proj' the heads' concatenated width (n_head * head_size = "
                f"{m.n_head * head_size}) must equal 'model.n_embd' ({m.n_embd})")
        self.vocab_size, self.block_size = vocab_size, m.block_size
        self.n_layer, self.n_head, self.head_size = m.n_layer, m.n_head, head_size
        self.padded_vocab = padded_vocab(vocab_size, m.vocab_multiple)
        self.tie_weights = m.tie_weights
        self.wte = nn.Embedding(self.padded_vocab, m.n_embd)
        self.wpe = nn.Embedding(m.block_size, m.n_embd) if m.pos_emb else None
        self.drop = nn.Dropout(m.dropout)
        self.blocks = nn.ModuleList([Block(m, head_size) for _ in range(m.n_layer)])
        self.ln_f = nn.LayerNorm(m.n_embd, bias=m.bias) if m.layernorm else nn.Identity()
        self.lm_head = nn.Linear(m.n_embd, self.padded_vocab, bias=False)  # GPT-2 has no lm_head bias
        if m.tie_weights:
            self.wte.weight = self.lm_head.weight
        if m.init == "gpt2":  # else PyTorch's defaults: without layer norm the scale matters
            self.apply(self._init_weights)
            for name, p in self.named_parameters():
                if name.endswith("attn.proj.weight") or name.endswith("ffn.proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * m.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token embeddings plus, with model.pos_emb, position embeddings: the blocks' input."""
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(idx.size(1), dtype=torch.long, device=idx.device))
        return self.drop(x)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        if T > self.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size {self.block_size}")
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        if targets is None:
            return self._logits_and_loss(self.lm_head(x[:, [-1], :]), None)  # only the last position
        return self._logits_and_loss(self.lm_head(x), targets)

    def param_counts(self) -> dict[str, int]:
        """total; non_embedding (without token and position embeddings); flops, the N of
        6N FLOPs per token (non-embedding plus the lm head: with tied weights, total - wpe)."""
        total = sum(p.numel() for p in self.parameters())  # a tied weight counts once
        wte, wpe = self.wte.weight.numel(), self.wpe.weight.numel() if self.wpe is not None else 0
        non_embedding = total - wpe - wte  # an untied lm_head stays in
        flops = total - wpe if self.tie_weights else total - wpe - wte
        return {"total": total, "non_embedding": non_embedding, "flops": flops}


def build_model(m, vocab_size: int) -> LanguageModel:
    """The model for a [model] section and a vocabulary size (refused before allocating if its
    weights alone cannot fit in RAM: a config may come from an imported run)."""
    check_weights_fit(m, vocab_size)
    if m.kind == "bigram":
        return Bigram(m, vocab_size)
    return GPT(m, vocab_size)


def configure_optimizer(model: nn.Module, weight_decay: float, lr: float, betas: tuple[float, float],
                        fused: bool) -> torch.optim.AdamW:
    """AdamW; weight decay on every matrix (Linear weights, token and position embeddings),
    not on biases or norms: nanoGPT's grouping."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"fused": True} if fused else {}
    return torch.optim.AdamW(groups, lr=lr, betas=betas, **kwargs)
