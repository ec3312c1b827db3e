"""The experiment files, as a tree by `experiment.extends`. A broken file shows marked, never crashes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree

from workbench.config import read_toml
from workbench.errors import WorkbenchError


@dataclass
class Experiment:
    path: Path
    name: str  # path relative to the experiments dir, without .toml
    description: str = ""
    extends: str = ""
    error: str = ""


def scan_experiments(folder: Path) -> list[Experiment]:
    out = []
    for path in sorted(Path(folder).rglob("*.toml")):
        name = path.relative_to(folder).with_suffix("").as_posix()
        try:
            raw = read_toml(path)
            exp = raw.get("experiment", {})
            if not isinstance(exp, dict):
                raise WorkbenchError(f"{path}: [experiment] must be a table")
            out.append(Experiment(path, name, str(exp.get("description", "")), str(exp.get("extends", ""))))
        except WorkbenchError as e:
            out.append(Experiment(path, name, error=str(e)))
    return out


class ExperimentTree(Tree[Experiment]):
    BINDINGS = [
        Binding("s", "screen.start", "start"),
        Binding("S", "screen.start_with", "start with…"),
        Binding("a", "screen.queue_add", "queue…", show=False),  # in `?`; the footer keeps to 80 columns
        Binding("tab", "app.focus_next", "runs", show=False),
    ]

    def __init__(self, folder: Path, **kwargs) -> None:
        super().__init__("experiments", **kwargs)
        self.folder = Path(folder)
        self.show_root = False
        self.guide_depth = 3

    def load(self) -> None:
        selected = self.selected.path if self.selected else None
        self.clear()
        exps = scan_experiments(self.folder)
        by_path = {e.path.resolve(): e for e in exps}
        children: dict[Path | None, list[Experiment]] = {}
        for e in exps:
            parent = (e.path.parent / e.extends).resolve() if e.extends else None
            if parent not in by_path or parent == e.path.resolve():
                parent = None
            children.setdefault(parent, []).append(e)

        def add(node, parent_key: Path | None, depth: int) -> None:
            for e in children.get(parent_key, []):
                kids = children.get(e.path.resolve()) if depth < 32 else None
                label = self._label(e)
                if kids:
                    child = node.add(label, data=e, expand=True)
                    add(child, e.path.resolve(), depth + 1)
                else:
                    node.add_leaf(label, data=e)

        add(self.root, None, 0)
        if not exps:  # short lines, few of them: the pane is narrow on wide screens, low at 80x24
            for line in (f"no *.toml files in {self.folder.name}/", "run `workbench init` to write",
                         "the examples, or pass", "--experiments-dir"):
                self.root.add_leaf(Text(line, style="dim"))
        self.root.expand()
        self.cursor_line = 0
        if selected is not None:
            for line in range(self.last_line + 1):
                node = self.get_node_at_line(line)
                if node is not None and node.data and node.data.path == selected:
                    self.cursor_line = line
                    break

    @staticmethod
    def _label(e: Experiment) -> Text:
        text = Text(e.name, style="bold")
        if e.error:
            text.append("  ✗ error", style="bold red")
        elif e.description:
            text.append(f"  {e.description}", style="dim")
        return text

    @property
    def selected(self) -> Experiment | None:
        node = self.cursor_node
        return node.data if node is not None else None
