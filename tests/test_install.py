"""A regular (non-editable) install, as a newcomer gets it: a wheel built from this checkout,
installed into a fresh venv, then `workbench init` in an empty folder and a short run there.

No network: the venv sees this test environment's packages (torch, textual, …) through a .pth
file, and the wheel is built without build isolation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT

from workbench.examples_folder import example_files, init_folder

pytest.importorskip("setuptools")
pytest.importorskip("torch")

SOURCES = ["workbench", "experiments", "setup.py", "pyproject.toml", "README.md"]


def build_wheel(tmp: Path) -> Path:
    """Build from a copy of the sources, so the checkout gets no build/ or egg-info."""
    src = tmp / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "--no-index", "-w", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("workbench-*.whl")
    return wheel


def make_venv(tmp: Path) -> Path:
    """A venv without pip whose site-packages also sees ours (torch & co.), but not the
    editable workbench: .pth files of a folder added by a .pth line are not run."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def clean_env() -> dict[str, str]:
    # a newcomer has none of these (CI sets WORKBENCH_RUNS_DIR as a guard)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "WORKBENCH_RUNS_DIR")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_installed_wheel_inits_and_runs(tmp_path):
    wheel = build_wheel(tmp_path)
    venv = make_venv(tmp_path)
    env = clean_env()
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                        str(wheel)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    work = tmp_path / "empty"
    work.mkdir()
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import workbench; print(workbench.__file__)"],
                           cwd=work, capture_output=True, text=True, env=env, check=True).stdout
    assert str(venv) in where, f"imported the checkout, not the installed wheel: {where}"

    workbench = str(venv / "bin" / "workbench")
    r = subprocess.run([workbench, "init"], cwd=work, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    shipped = sorted(str(p.relative_to(ROOT / "experiments")) for p in (ROOT / "experiments").rglob("*.toml"))
    written = sorted(str(p.relative_to(work / "experiments")) for p in (work / "experiments").rglob("*.toml"))
    assert written == shipped, "the wheel does not ship every experiment file (pyproject package-data?)"
    assert "runs/" in (work / ".gitignore").read_text().splitlines()

    r = subprocess.run([workbench, "run", "experiments/tiny.toml", "--set", "train.max_steps=20",
                        "--set", "eval.interval=10", "--set", "eval.batches=2", "--set", "sample.interval=0",
                        "--set", "checkpoint.interval=0"],
                       cwd=work, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    (run_dir,) = (work / "runs").iterdir()
    assert (run_dir / "run.json").is_file() and (run_dir / "metrics.sqlite").is_file()


def test_init_keeps_what_is_there(tmp_path):
    (tmp_path / "experiments").mkdir()
    mine = tmp_path / "experiments" / "tiny.toml"
    mine.write_text("# my own tiny\n")
    (tmp_path / ".gitignore").write_text("*.pyc")
    report = init_folder(tmp_path)
    assert mine.read_text() == "# my own tiny\n" and "experiments/tiny.toml" in report.kept
    assert len(report.written) == len(example_files()) - 1
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\nruns/\n" and report.gitignore == "added runs/"
    again = init_folder(tmp_path)
    assert again.written == [] and again.gitignore == ""
    init_folder(tmp_path, force=True)
    assert mine.read_text() != "# my own tiny\n"


def test_init_command_refuses_a_file(tmp_path):
    from workbench.cli import main

    f = tmp_path / "x"
    f.write_text("")
    assert main(["init", str(f)]) == 2
