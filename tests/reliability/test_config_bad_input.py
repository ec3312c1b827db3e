"""Bad input in configs is refused by the config layer with one line naming the file, the key and
what is wrong, before anything is allocated and before any run folder exists (issue 11)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import cli
from workbench.config import Config, ModelConfig, load_config
from workbench.errors import WorkbenchError
from workbench.launch import start_run
from workbench.sizing import check_weights_fit, param_count
from workbench.store import RunStore


def toml(tmp_path, text: str, name: str = "exp.toml", bom: bool = False):
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def refused(capsys, tmp_path, *args: str) -> str:
    runs = tmp_path / "runs"
    code, _, err = cli(capsys, *args, "--runs-dir", str(runs))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not runs.exists() or list(runs.iterdir()) == []  # no run folder was made
    return err


@pytest.mark.parametrize("line", ["train.lr = nan", "train.lr = inf", "train.lr = -inf",
                                  "sample.temperature = nan", "train.max_time = inf",
                                  "model.dropout = nan", "data.val_fraction = nan"])
def test_non_finite_floats_refused(tmp_path, capsys, line):
    section, rest = line.split(".", 1)
    path = toml(tmp_path, f"[{section}]\n{rest}\n")
    err = refused(capsys, tmp_path, "run", str(path))
    assert f"'{line.split(' ')[0]}' is" in err and "finite number" in err
    err = refused(capsys, tmp_path, "run", str(toml(tmp_path, "")), "--set", line.replace(" ", ""))
    assert "finite number" in err


def test_ints_beyond_int64_refused(tmp_path, capsys):
    err = refused(capsys, tmp_path, "run", str(toml(tmp_path, "[train]\nmax_steps = 99999999999999999999\n")))
    assert "'train.max_steps' is 99999999999999999999, beyond a 64-bit integer" in err
    err = refused(capsys, tmp_path, "run", str(toml(tmp_path, "")), "--set", "train.seed=9223372036854775808")
    assert "beyond a 64-bit integer" in err
    assert load_config(toml(tmp_path, "[train]\nseed = 9223372036854775807\n")).train.seed == 2**63 - 1


def test_huge_model_refused_with_numbers_before_a_run_folder(tmp_path, capsys):
    path = toml(tmp_path, "[model]\nn_layer = 1000000\n")
    err = refused(capsys, tmp_path, "run", str(path))
    assert "cannot train here" in err and "n_layer=1000000" in err and "1,770,240,098,688 parameters" in err
    assert "need at least" in err and "RAM is" in err
    store = RunStore(tmp_path / "runs")
    with pytest.raises(WorkbenchError, match="cannot train here"):
        start_run(store, path)  # the TUI's way in
    assert not store.root.exists() or list(store.root.iterdir()) == []
    with pytest.raises(WorkbenchError, match="more than this machine's RAM"):
        check_weights_fit(load_config(path).model, 65)  # what build_model asks before allocating


@pytest.mark.parametrize("changes", [{}, {"kind": "bigram"}, {"bias": True, "tie_weights": False, "head_size": 16},
                                     {"ffn_proj": False, "ffn_mult": 1, "layernorm": False, "attn_proj": False}])
def test_parameter_estimate_matches_the_model(changes):
    torch = pytest.importorskip("torch")  # noqa: F841 - the real model to count against
    from workbench.model import build_model

    m = ModelConfig(n_layer=2, n_head=2, n_embd=32, block_size=16, **changes)
    real = sum(p.numel() for p in build_model(m, 65).parameters())
    assert param_count(m, 65) == real


def test_utf8_bom_is_accepted(tmp_path):
    text = '[experiment]\ndescription = "from notepad"\n\n[train]\nmax_steps = 7\n'
    with_bom = load_config(toml(tmp_path, text, "bom.toml", bom=True))
    assert with_bom.train.max_steps == 7 and with_bom.experiment.description == "from notepad"
    assert with_bom.to_dict()["train"] == load_config(toml(tmp_path, text, "plain.toml")).to_dict()["train"]


def test_not_utf8_says_so(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[experiment]\ndescription = "caf\xe9"\n'.encode("latin-1"))
    assert "not a UTF-8 text file" in refused(capsys, tmp_path, "run", str(path))


def test_folder_or_device_as_experiment(tmp_path, capsys):
    (tmp_path / "experiments").mkdir()
    err = refused(capsys, tmp_path, "run", str(tmp_path / "experiments"))
    assert "is a folder, not a file" in err and "does not exist" not in err
    if os.path.exists("/dev/null"):
        assert "is a character device, not a file" in refused(capsys, tmp_path, "run", "/dev/null")
    assert "does not exist" in refused(capsys, tmp_path, "run", str(tmp_path / "missing.toml"))
    err = refused(capsys, tmp_path, "run", str(toml(tmp_path, '[experiment]\nextends = "experiments"\n')))
    assert "extends" in err and "is a folder, not a file" in err


@pytest.mark.parametrize("value, message", [("{tmp}", "is a folder, not a file"),
                                            ("/dev/null", "is a character device, not a file"),
                                            ("{tmp}/empty.txt", "is empty"),
                                            ("{tmp}/missing.txt", "does not exist")])
def test_folder_device_or_empty_file_as_dataset(tmp_path, capsys, value, message):
    if value.startswith("/dev/") and not os.path.exists(value):
        pytest.skip("no /dev/null here")
    (tmp_path / "empty.txt").touch()
    path = toml(tmp_path, f'[data]\ndataset = "{value.format(tmp=tmp_path)}"\n')
    err = refused(capsys, tmp_path, "run", str(path))
    assert "'data.dataset' names" in err and message in err


def test_defaults_still_pass():
    from workbench.config_checks import check_runnable

    check_runnable(Config(), "defaults")  # the stock model fits any machine that runs the tests
