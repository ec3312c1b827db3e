"""Config: extends chains and cycles, overrides, strict validation, round trip, diff."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, workbench_cmd, workbench_env
from workbench.config import (
    Config,
    all_keys,
    config_to_toml,
    diff_configs,
    extends_chain,
    load_config,
    parse_override,
    reference_markdown,
)
from workbench.errors import WorkbenchError

EXPERIMENTS = sorted((ROOT / "experiments").rglob("*.toml"))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_experiment_file_validates():
    assert len(EXPERIMENTS) >= 15
    for path in EXPERIMENTS:
        cfg = load_config(path)
        assert cfg.experiment.name == path.stem


def test_extends_chain_of_any_depth(tmp_path):
    write(tmp_path / "a.toml", "[train]\nlr = 0.01\nbatch_size = 8\n[experiment]\ndescription = 'A'\n")
    write(tmp_path / "sub/b.toml", "[experiment]\nextends = '../a.toml'\n[train]\nbatch_size = 4\n")
    write(tmp_path / "sub/c.toml", "[experiment]\nextends = 'b.toml'\n[model]\nn_layer = 2\n")
    cfg = load_config(tmp_path / "sub/c.toml")
    assert (cfg.train.lr, cfg.train.batch_size, cfg.model.n_layer) == (0.01, 4, 2)
    assert cfg.experiment.name == "c" and cfg.experiment.description == ""  # [experiment] not inherited
    assert [p.name for p in extends_chain(tmp_path / "sub/c.toml")] == ["c.toml", "b.toml", "a.toml"]


def test_cycle_reports_whole_chain(tmp_path):
    write(tmp_path / "a.toml", "[experiment]\nextends = 'b.toml'\n")
    write(tmp_path / "b.toml", "[experiment]\nextends = 'c.toml'\n")
    write(tmp_path / "c.toml", "[experiment]\nextends = 'a.toml'\n")
    with pytest.raises(WorkbenchError, match=r"cycle: .*a\.toml -> .*b\.toml -> .*c\.toml -> .*a\.toml"):
        load_config(tmp_path / "a.toml")


def test_missing_parent(tmp_path):
    write(tmp_path / "a.toml", "[experiment]\nextends = 'nope.toml'\n")
    with pytest.raises(WorkbenchError, match="nope.toml"):
        load_config(tmp_path / "a.toml")


def test_overrides_parse_as_toml():
    assert parse_override("train.lr=3e-4") == ("train", "lr", 3e-4)
    assert parse_override("system.compile=false") == ("system", "compile", False)
    assert parse_override("system.device=cpu") == ("system", "device", "cpu")
    assert parse_override("experiment.tags=['a', 'b']") == ("experiment", "tags", ["a", "b"])
    cfg = load_config(ROOT / "experiments/tiny.toml", ["train.lr=3e-4", "system.compile=false",
                                                       "model.n_layer=3"])
    assert (cfg.train.lr, cfg.system.compile, cfg.model.n_layer) == (3e-4, False, 3)


@pytest.mark.parametrize("text, pattern", [
    ("[train]\nlrr = 1.0\n", r"bad\.toml: unknown key 'train\.lrr'; did you mean 'train\.lr'\?"),
    ("[trian]\nlr = 1.0\n", r"unknown section \[trian\]; did you mean 'train'\?"),
    ("[model]\nblock = 64\n", r"unknown key 'model\.block'.*did you mean"),
    ("[train]\nlr = 'fast'\n", r"'train\.lr' must be a number, got 'fast'"),
    ("[train]\nbatch_size = 2.5\n", r"'train\.batch_size' must be an integer"),
    ("[model]\nbias = 1\n", r"'model\.bias' must be true or false"),
    ("[system]\nprecision = 'fp8'\n", r"'system\.precision' is 'fp8'; use one of 'auto', 'fp32'"),
    ("[system]\ndevice = 'gpu'\n", r"'system\.device' is 'gpu'; use 'auto', 'cpu', 'cuda'"),
    ("[system]\ncompile = 'yes'\n", r"'system\.compile' must be true, false or \"auto\""),
    ("[model]\nn_embd = 100\nn_head = 6\n", r"n_embd' \(100\) must be divisible by 'model\.n_head' \(6\)"),
    ("[train]\nbatch_size = 0\n", r"'train\.batch_size' is 0; it must be at least 1"),
    ("[train]\nmin_lr = 1.0\nlr = 0.1\n", r"min_lr.*must be between 0 and 'train\.lr'"),
    ("[model]\ndropout = 1.5\n", r"dropout' is 1\.5"),
    ("[train]\nmax_steps = 0\n", r"nothing stops this run"),
    ("[data]\ntrain_bin = 'x.bin'\n", r"set both 'data\.train_bin' and 'data\.val_bin'"),
    ("[model\n", r"not valid TOML"),
    ("train = 3\n", r"'train' must be a table"),
])
def test_bad_input_names_file_and_key(tmp_path, text, pattern):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(WorkbenchError, match=pattern) as e:
        load_config(path)
    assert str(path) in str(e.value)


def test_bad_override_names_the_override():
    with pytest.raises(WorkbenchError, match=r"--set train\.lrr=1: unknown key 'train\.lrr'; did you mean 'train\.lr'"):
        load_config(ROOT / "experiments/tiny.toml", ["train.lrr=1"])
    with pytest.raises(WorkbenchError, match="expected key=value"):
        load_config(ROOT / "experiments/tiny.toml", ["train.lr"])


def test_resolved_config_round_trips(tmp_path):
    for path in EXPERIMENTS:
        cfg = load_config(path, ["train.lr=0.002"])
        out = write(tmp_path / f"{path.stem}.toml", config_to_toml(cfg))
        assert load_config(out) == cfg


def test_data_paths_resolve_relative_to_their_file(tmp_path):
    write(tmp_path / "data/t.txt", "hello")
    write(tmp_path / "exp/a.toml", "[data]\ndataset = '../data/t.txt'\n")
    assert load_config(tmp_path / "exp/a.toml").data.dataset == str((tmp_path / "data/t.txt").resolve())


def test_diff_shows_only_keys_that_differ():
    a, b = load_config(ROOT / "experiments/char.toml"), load_config(ROOT / "experiments/bf16.toml")
    rows = {k: (va, vb) for k, va, vb in diff_configs(a, b)}
    assert rows == {"model.attention": ("sdpa", "manual"), "model.vocab_multiple": (64, 1),
                    "system.precision": ("auto", "bf16"), "system.compile": ("auto", False),
                    "system.fused_optimizer": (True, False)}
    assert diff_configs(a, a) == []


def test_keys_have_docs_and_readme_reference_is_current():
    assert all(k.count(".") == 1 for k in all_keys())
    readme = (ROOT / "README.md").read_text()
    assert reference_markdown() in readme, "README's config reference is stale: run scripts/config_reference.py"


def test_cli_errors_are_one_line_exit_2(tmp_path):
    path = write(tmp_path / "bad.toml", "[train]\nlrr = 1\n")
    p = subprocess.run(workbench_cmd("config", str(path)), capture_output=True, text=True,
                       env=workbench_env(), timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr
    assert "did you mean 'train.lr'" in p.stderr and str(path) in p.stderr


def test_cli_diff_and_config():
    p = subprocess.run(workbench_cmd("diff", "experiments/char.toml", "experiments/bf16.toml"),
                       capture_output=True, text=True, env=workbench_env(COLUMNS="200"), cwd=ROOT, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "system.precision" in p.stdout and "model.n_layer" not in p.stdout
    p = subprocess.run(workbench_cmd("config", "experiments/tiny.toml", "--set", "train.lr=0.5"),
                       capture_output=True, text=True, env=workbench_env(), cwd=ROOT, timeout=60)
    assert p.returncode == 0 and "lr = 0.5" in p.stdout


def test_default_config_is_valid():
    from workbench.config import from_dict

    assert from_dict(Config().to_dict()) == Config()


def test_missing_data_files_are_caught_before_a_run_starts(tmp_path, runs_dir):
    from workbench.config_checks import check_data_files

    cfg = load_config(ROOT / "experiments/gpt2-124m.toml")  # loads: its data lives elsewhere
    with pytest.raises(WorkbenchError, match=r"'data\.train_bin' names .*train\.bin, which does not exist"):
        check_data_files(cfg, "gpt2-124m.toml")
    check_data_files(load_config(ROOT / "experiments/tiny.toml"), "tiny.toml")  # built-in data
    p = subprocess.run(workbench_cmd("run", "experiments/tiny.toml", "--set", f"data.dataset={tmp_path}/no.txt",
                                     "--runs-dir", str(runs_dir)),
                       capture_output=True, text=True, env=workbench_env(), cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "does not exist" in p.stderr
    assert not runs_dir.exists()  # bad input makes no run folder
