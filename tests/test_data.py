"""Data: the built-in dataset, tokenizers, the cache, splits, .bin memmaps, batches."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
import torch

from tests.conftest import requires_bpe
from workbench.config import DataConfig
from workbench.data import (
    BUILTIN,
    Batches,
    CharTokenizer,
    GPT2Tokenizer,
    load_dataset,
    read_text,
    tokenizer_from_state,
)
from workbench.errors import WorkbenchError


def data_cfg(tmp_path, **kw) -> DataConfig:
    d = DataConfig(cache_dir=str(tmp_path / "cache"))
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def test_builtin_tinyshakespeare():
    raw = gzip.decompress(BUILTIN["tinyshakespeare"].read_bytes())
    assert len(raw) == 1_115_394
    assert hashlib.sha256(raw).hexdigest() == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    assert read_text("tinyshakespeare").startswith("First Citizen:")


def test_char_tokenizer_roundtrip():
    tok = CharTokenizer.from_text("hello world")
    assert tok.vocab_size == 8
    ids = tok.encode("hold")
    assert tok.decode(ids) == "hold"
    assert list(tok.encode_array("hello")) == tok.encode("hello")
    assert tokenizer_from_state(tok.state()).chars == tok.chars
    with pytest.raises(WorkbenchError, match="vocabulary"):
        tok.encode_array("xyz")


@requires_bpe
def test_gpt2_tokenizer_roundtrip():
    tok = GPT2Tokenizer()
    ids = tok.encode("Hello world")
    assert ids == [15496, 995]
    assert tok.decode(ids) == "Hello world"
    text = "line one\nline two\n" * 50
    assert list(tok.encode_array(text)) == tok.encode(text)


def test_gpt2_tokenizer_offline_error(monkeypatch):
    import tiktoken

    def no_bpe(name):
        raise ConnectionError("no network")

    monkeypatch.setattr(tiktoken, "get_encoding", no_bpe)
    with pytest.raises(WorkbenchError, match="TIKTOKEN_CACHE_DIR"):
        GPT2Tokenizer()


def test_text_file_split_and_cache(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("abcdefghij" * 100, encoding="utf-8")
    ds = load_dataset(data_cfg(tmp_path, dataset=str(path), val_fraction=0.2))
    assert ds.vocab_size == 10 and len(ds.train) == 800 and len(ds.val) == 200
    assert ds.tokenizer.decode(list(ds.val[:3])) == "abc"
    cached = list((tmp_path / "cache").glob("tokens-char-*.npy"))
    assert len(cached) == 2  # the train and the val text, each tokenized and cached
    again = load_dataset(data_cfg(tmp_path, dataset=str(path), val_fraction=0.2))
    assert np.array_equal(np.asarray(again.train), np.asarray(ds.train))


@requires_bpe
def test_gpt2_tokens_are_cached_apart(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("abcdefghij" * 100, encoding="utf-8")
    load_dataset(data_cfg(tmp_path, dataset=str(path)))
    gpt2 = load_dataset(data_cfg(tmp_path, dataset=str(path), tokenizer="gpt2"))
    assert gpt2.vocab_size == 50257
    assert len(list((tmp_path / "cache").glob("tokens-gpt2-*.npy"))) == 2  # train and val


def test_separate_val_file(tmp_path):
    (tmp_path / "train.txt").write_text("aaaa bbbb " * 50)
    (tmp_path / "val.txt").write_text("cccc " * 20)
    ds = load_dataset(data_cfg(tmp_path, dataset=str(tmp_path / "train.txt"),
                               val_dataset=str(tmp_path / "val.txt")))
    assert ds.vocab_size == 4  # the vocabulary covers both files
    assert len(ds.train) == 500 and len(ds.val) == 100


@requires_bpe
def test_bin_pair_memmap(tmp_path):
    np.arange(1000, dtype=np.uint16).tofile(tmp_path / "train.bin")
    np.arange(200, dtype=np.uint16).tofile(tmp_path / "val.bin")
    ds = load_dataset(data_cfg(tmp_path, tokenizer="gpt2", train_bin=str(tmp_path / "train.bin"),
                               val_bin=str(tmp_path / "val.bin")))
    assert isinstance(ds.train, np.memmap) and len(ds.train) == 1000 and int(ds.val[-1]) == 199


def test_bad_paths(tmp_path):
    with pytest.raises(WorkbenchError, match="no such file"):
        load_dataset(data_cfg(tmp_path, dataset=str(tmp_path / "missing.txt")))
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(WorkbenchError, match="UTF-8"):
        load_dataset(data_cfg(tmp_path, dataset=str(tmp_path / "bad.txt")))
    with pytest.raises(WorkbenchError, match="train_bin"):
        load_dataset(data_cfg(tmp_path, tokenizer="gpt2", train_bin=str(tmp_path / "x.bin"),
                              val_bin=str(tmp_path / "y.bin")))


@pytest.mark.parametrize("on_device", [True, False])
def test_batches(on_device):
    tokens = np.arange(500, dtype=np.uint16)
    b = Batches(tokens, block_size=8, batch_size=4, device=torch.device("cpu"), seed=1)
    if not on_device:  # the memmap path, as for big corpora
        b.on_device, b.tokens = False, tokens
    x, y = b.draw(3, 0)
    assert x.shape == y.shape == (4, 8) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1]) and torch.equal(y[:, 0], x[:, 0] + 1)
    b.draw(7, 1)
    assert torch.equal(b.draw(3, 0)[0], x)  # a function of (seed, step, index): no state to save
    assert not torch.equal(b.draw(3, 1)[0], x) and not torch.equal(b.draw(4, 0)[0], x)
    other = Batches(tokens, block_size=8, batch_size=4, device=torch.device("cpu"), seed=2)
    assert not torch.equal(other.draw(3, 0)[0], x)


def test_too_little_data():
    with pytest.raises(WorkbenchError, match="block_size"):
        Batches(np.arange(10, dtype=np.uint16), 16, 4, torch.device("cpu"), 0, "val")


@requires_bpe
def test_gpt2_chunks_give_the_whole_texts_tokens(monkeypatch):
    import workbench.data as data

    tok = GPT2Tokenizer()
    text = "Hi\n\n\nyou \n x\n\n\n\nthere\nok.\n \n" * 6 + "ROMEO:\nend"
    whole = tok.enc.encode_ordinary(text)
    assert whole[:3] == [17250, 628, 198]  # "Hi" "\n\n" "\n": cut after "Hi\n" it would be 198, 198, 198
    for size in range(1, 40):  # cuts land inside every run of newlines
        monkeypatch.setattr(data, "TOKENIZE_CHUNK", size)
        assert tok.encode_array(text).tolist() == whole, size
    assert data.safe_cut("ab\n\n\ncd\nef", 3) == 8  # not inside the run: after the lone newline


@requires_bpe
def test_gpt2_val_split_is_by_characters_as_nanogpt(tmp_path):
    # nanoGPT's data/shakespeare/prepare.py: 301,966 train and 36,059 val tokens
    ds = load_dataset(data_cfg(tmp_path, tokenizer="gpt2"))
    assert (len(ds.train), len(ds.val)) == (301_966, 36_059)
