"""Datasets, tokenizers and the batch sampler.

- The built-in dataset `tinyshakespeare` ships compressed in this folder.
- Any UTF-8 text file; a separate validation file or the last `val_fraction` of the text.
- Pre-tokenized uint16 `.bin` pairs (nanoGPT layout) are read through np.memmap.
- Tokenizers: `char` (vocabulary from the data, saved with the run) and `gpt2`
  (tiktoken's r50k_base, loaded offline from TIKTOKEN_CACHE_DIR).
- Tokenized text is cached by content hash + tokenizer, so the second run starts at once.
- Small datasets live on the training device and batches are drawn there (no host sync);
  big ones are read from a memmap into pinned memory and copied with non_blocking.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.errors import WorkbenchError

HERE = Path(__file__).parent
BUILTIN = {"tinyshakespeare": HERE / "tinyshakespeare.txt.gz"}
TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
ON_DEVICE_MAX_TOKENS = 200_000_000  # datasets up to this many tokens are kept on the GPU
TOKENIZE_CHUNK = 1 << 20  # characters per tiktoken call; progress is shown per chunk
# In the token cache's file names: 2 since GPT-2 chunks are cut where tiktoken would (safe_cut),
# so tokens cached by the old cuts at any newline are never reused.
TOKEN_CACHE_VERSION = 2


# ---------------------------------------------------------------- tokenizers


class CharTokenizer:
    """One token per character; the vocabulary is the sorted set of characters in the data."""

    kind = "char"

    def __init__(self, chars: str):
        self.chars = chars
        self.vocab_size = len(chars)
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    def encode(self, text: str) -> list[int]:
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            raise WorkbenchError(f"the text has characters the vocabulary lacks: {''.join(unknown)!r}")
        return [self.stoi[c] for c in text]

    def encode_array(self, text: str) -> np.ndarray:
        """Fast path for a whole dataset: a lookup table over code points."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.zeros(max(ord(c) for c in self.chars) + 1 if self.chars else 1, dtype=np.int64) - 1
        for i, c in enumerate(self.chars):
            table[ord(c)] = i
        if codes.size and codes.max() >= table.size:
            self.encode(text)  # raises naming the unknown characters
        ids = table[codes]
        if (ids < 0).any():
            self.encode(text)
        return ids.astype(token_dtype(self.vocab_size))

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids if 0 <= i < self.vocab_size)

    def state(self) -> dict:
        return {"kind": "char", "chars": self.chars}


class GPT2Tokenizer:
    """The GPT-2 BPE (tiktoken r50k_base)."""

    kind = "gpt2"
    vocab_size = 50257

    def __init__(self):
        from workbench.preflight import load_gpt2_bpe

        self.enc = load_gpt2_bpe()
        self.eot = self.enc.eot_token

    def encode(self, text: str) -> list[int]:
        return self.enc.encode_ordinary(text)

    def encode_array(self, text: str, progress: bool = False) -> np.ndarray:
        """encode_ordinary(text) as uint16, in chunks of about TOKENIZE_CHUNK characters, each cut
        where tiktoken's pre-tokenizer cannot join across the cut (see safe_cut): the result is
        exactly the whole text's tokens."""
        out: list[np.ndarray] = []
        t0, start = time.time(), 0
        while start < len(text):
            end = safe_cut(text, start + TOKENIZE_CHUNK)
            out.append(np.array(self.enc.encode_ordinary(text[start:end]), dtype=np.uint16))
            start = end
            if progress and time.time() - t0 > 2.0:
                print(f"tokenizing: {100 * start / len(text):.0f}%", file=sys.stderr, flush=True)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.uint16)

    def decode(self, ids: list[int]) -> str:
        return self.enc.decode([i for i in ids if 0 <= i < self.vocab_size])

    def state(self) -> dict:
        return {"kind": "gpt2"}


def safe_cut(text: str, at: int) -> int:
    """A cut at or after `at` (or len(text)) that GPT-2's pre-tokenizer never joins across:
    just after a lone newline between two non-space characters. Such a newline is always its
    own pre-token, alone at the end of a piece too, and the next pre-token starts after it, so
    the pieces' tokens concatenate to the whole text's. A cut inside a run of newlines would
    not: "\n\n\n" before a word is [628, 198], cut after the first newline [198, 198, 198]."""
    i = text.find("\n", max(at - 1, 1))
    while i != -1 and i + 1 < len(text):
        if not text[i - 1].isspace() and not text[i + 1].isspace():
            return i + 1
        i = text.find("\n", i + 1)
    return len(text)


def tokenizer_from_state(state: dict) -> CharTokenizer | GPT2Tokenizer:
    if state["kind"] == "char":
        return CharTokenizer(state["chars"])
    return GPT2Tokenizer()


def token_dtype(vocab_size: int) -> type:
    return np.uint16 if vocab_size <= 65536 else np.int32


# ---------------------------------------------------------------- reading text


def read_text(name: str) -> str:
    """The built-in dataset by name, or a UTF-8 text file by path."""
    if name in BUILTIN:
        raw = gzip.decompress(BUILTIN[name].read_bytes())
        if name == "tinyshakespeare" and hashlib.sha256(raw).hexdigest() != TINYSHAKESPEARE_SHA256:
            raise WorkbenchError(f"the built-in {name} data is damaged (sha256 mismatch); reinstall workbench")
        return raw.decode("utf-8")
    path = Path(name).expanduser()
    if not path.is_file():
        raise WorkbenchError(f"data.dataset: no such file {str(path)!r}; use 'tinyshakespeare' or a path to a UTF-8 text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise WorkbenchError(f"data.dataset: {path} is not UTF-8 text ({e})") from None


def cache_dir(configured: str) -> Path:
    d = Path(configured).expanduser() if configured else Path.home() / ".cache" / "workbench"
    return d


def _cached_tokens(text: str, tok, folder: Path, show_progress: bool) -> np.ndarray:
    """Tokenize `text` with `tok`, through a cache keyed by content hash and tokenizer."""
    h = hashlib.sha256(text.encode("utf-8"))
    if tok.kind == "char":
        h.update(tok.chars.encode("utf-8"))
    path = folder / f"tokens-{tok.kind}-v{TOKEN_CACHE_VERSION}-{h.hexdigest()[:24]}.npy"
    if path.is_file():
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt
    if tok.kind == "gpt2":
        ids = tok.encode_array(text, progress=show_progress)
    else:
        ids = tok.encode_array(text)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, ids)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache folder only costs time
    return ids


# ---------------------------------------------------------------- datasets


@dataclass
class Dataset:
    train: np.ndarray  # 1-D token ids (possibly a memmap)
    val: np.ndarray
    tokenizer: CharTokenizer | GPT2Tokenizer
    source: str

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size


def load_dataset(data_cfg, show_progress: bool = True) -> Dataset:
    """The train and val token arrays for a [data] section."""
    d = data_cfg
    if d.train_bin:
        arrays = []
        for key_name, p in (("data.train_bin", d.train_bin), ("data.val_bin", d.val_bin)):
            path = Path(p).expanduser()
            if not path.is_file():
                raise WorkbenchError(f"{key_name}: no such file {str(path)!r}")
            if path.stat().st_size < 4:
                raise WorkbenchError(f"{key_name}: {path} is too small to hold uint16 tokens")
            arrays.append(np.memmap(path, dtype=np.uint16, mode="r"))
        return Dataset(arrays[0], arrays[1], GPT2Tokenizer(), f"{d.train_bin} + {d.val_bin}")

    text = read_text(d.dataset)
    val_text = read_text(d.val_dataset) if d.val_dataset else None
    if d.tokenizer == "char":
        tok = CharTokenizer.from_text(text + (val_text or ""))
    else:
        tok = GPT2Tokenizer()
    folder = cache_dir(d.cache_dir)
    progress = show_progress and len(text) > 10 * TOKENIZE_CHUNK
    if val_text is not None:
        train = _cached_tokens(text, tok, folder, progress)
        val = _cached_tokens(val_text, tok, folder, progress)
    else:
        # split the characters, then tokenize each part, as nanoGPT's prepare.py does (for GPT-2
        # tokens the val split then holds val_fraction of the text, not of the tokens)
        n = int(len(text) * (1 - d.val_fraction))
        train = _cached_tokens(text[:n], tok, folder, progress)
        val = _cached_tokens(text[n:], tok, folder, progress)
    return Dataset(train, val, tok, d.dataset + (f" + {d.val_dataset}" if d.val_dataset else ""))


# ---------------------------------------------------------------- batches


def batch_seed(seed: int, *key: int) -> int:
    """A 63-bit seed for the batch named by `key` (a step and a micro-batch index)."""
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class Batches:
    """Random (x, y) windows of block_size tokens from one token array.

    A batch is a function of (seed, step, micro-batch index) alone: `draw(step, i)` seeds the
    generator from them. So a resumed run draws the same batches with no saved state, and
    data-parallel ranks split a step's micro-batches between them: the world size changes
    the speed and nothing else. Evaluation draws `draw(EVAL, k)`, the same at every evaluation.

    Small arrays are moved to the device once; a batch is then torch.randint on the
    device plus one gather, with no host sync. Big arrays stay in a memmap; the batch
    is gathered on the host into pinned memory and copied asynchronously.
    """

    EVAL = -1  # the "step" of evaluation batches: never a training step

    def __init__(self, tokens: np.ndarray, block_size: int, batch_size: int, device: torch.device,
                 seed: int, name: str = "train"):
        if len(tokens) < block_size + 2:
            raise WorkbenchError(
                f"the {name} split has {len(tokens)} tokens, fewer than model.block_size + 2 "
                f"({block_size + 2}); use more data, a smaller block_size or another data.val_fraction")
        self.block_size, self.batch_size, self.device, self.seed = block_size, batch_size, device, seed
        self.n = len(tokens)
        self.on_device = self.n <= ON_DEVICE_MAX_TOKENS  # else: read from the memmap per batch
        gen_device = device if self.on_device and device.type == "cuda" else torch.device("cpu")
        self.generator = torch.Generator(device=gen_device)
        if self.on_device:
            # int32 halves the memory of int64 and gathers just as fast; ids are cast on use
            self.data = torch.from_numpy(np.asarray(tokens).astype(np.int32)).to(device)
            self.offsets = torch.arange(block_size + 1, device=device)
        else:
            self.tokens = tokens
        self.pin = device.type == "cuda"

    def draw(self, step: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Micro-batch `index` of optimizer step `step` (or of evaluation, step EVAL)."""
        self.generator.manual_seed(batch_seed(self.seed, step, index))
        B, T = self.batch_size, self.block_size
        if self.on_device:
            ix = torch.randint(self.n - T - 1, (B,), device=self.data.device, generator=self.generator)
            xy = self.data[ix[:, None] + self.offsets].long()
            return xy[:, :-1], xy[:, 1:]
        ix = torch.randint(self.n - T - 1, (B,), generator=self.generator).numpy()
        xy = np.stack([np.asarray(self.tokens[i:i + T + 1], dtype=np.int64) for i in ix])
        t = torch.from_numpy(xy)
        if self.pin:
            t = t.pin_memory()
        t = t.to(self.device, non_blocking=True)
        return t[:, :-1], t[:, 1:]
