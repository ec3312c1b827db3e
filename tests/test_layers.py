"""The layering rules of DESIGN.md: config -> trainer -> store -> viewers.

The trainer and the store never import Textual; the TUI and the store-reading
commands never import torch or the training loop (they must answer at once).
"""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT, workbench_env

PKG = ROOT / "workbench"


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_nothing_outside_tui_imports_textual():
    offenders = [str(p.relative_to(ROOT)) for p in PKG.rglob("*.py")
                 if "tui" not in p.relative_to(PKG).parts
                 and any(m.split(".")[0] in ("textual", "textual_plotext") for m in imported_modules(p))]
    assert offenders == []


def test_tui_never_imports_the_training_loop():
    forbidden = ("torch", "workbench.trainer", "workbench.model", "workbench.data", "workbench.bench",
                 "workbench.profiling")
    offenders = [(str(p.relative_to(ROOT)), m) for p in (PKG / "tui").rglob("*.py")
                 for m in imported_modules(p) if m.startswith(forbidden)]
    assert offenders == []


def run_python(code: str) -> str:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=workbench_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_trainer_and_store_do_not_load_textual():
    out = run_python("import sys, workbench.trainer, workbench.store, workbench.metrics; "
                     "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')))")
    assert out == "[]"


def test_tui_and_store_commands_do_not_load_torch():
    out = run_python("import sys, workbench.tui.app, workbench.cli as c; c.build_parser(); "
                     "print('torch' in sys.modules, 'workbench.trainer' in sys.modules)")
    assert out == "False False"
