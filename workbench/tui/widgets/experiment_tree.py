"""The experiment files, as a tree by `experiment.extends`. It follows the folder (new, deleted and
edited files show within ~2 s); a file that would not start shows marked with its error, never crashes."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree

from workbench.tui.experiment_files import Experiment, ExperimentFiles

REFRESH_S = 2.0  # how often the folder's mtimes are compared (stat calls only, in a worker)


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


class ExperimentTree(Tree[Experiment]):
    BINDINGS = [
        Binding("s", "screen.start", "start"),
        Binding("S", "screen.start_with", "start with…", tooltip="overrides as --set key=value; ctrl+s there saves "
                "them as a new experiment file"),
        Binding("a", "screen.queue_add", "queue…", show=False,  # in `?`; the footer keeps to 80 columns
                tooltip="with overrides; a file with [sweep] starts the sweep"),
        Binding("e", "edit", "edit", show=False, tooltip="open the file in $VISUAL / $EDITOR, then check it again"),
        Binding("tab", "app.focus_next", "runs", show=False, tooltip="focus the runs table"),
    ]

    def __init__(self, folder: Path, **kwargs) -> None:
        super().__init__("experiments", **kwargs)
        self.folder = Path(folder)
        self.files = ExperimentFiles(self.folder)
        self._shown: list[Experiment] | None = None  # the scan the tree shows
        self.show_root = False
        self.guide_depth = 3

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, lambda: self.load_in_background(only_if_changed=True))

    class Scanned(Message):
        def __init__(self, exps: list[Experiment], signature: tuple) -> None:
            super().__init__()
            self.exps, self.signature = exps, signature

    @work(thread=True, group="experiment-tree")
    def load_in_background(self, only_if_changed: bool = False) -> None:
        """As `load`, with the reading and validating off the UI thread (the first scan validates
        every file: not before the first frame)."""
        if only_if_changed and not self.files.changed():
            return
        self.post_message(self.Scanned(*self.files.scan_with_signature()))

    def on_experiment_tree_scanned(self, message: Scanned) -> None:
        # a later scan (an edit's, on this thread) supersedes this one; an unchanged folder keeps the tree
        if message.signature == self.files.signature_scanned and message.exps != self._shown:
            self._show(message.exps)

    def load(self, select: Path | None = None) -> None:
        """Read the folder again; the cursor stays on the file it was on (or goes to `select`)."""
        self._show(self.files.scan(), select)

    def _show(self, exps: list[Experiment], select: Path | None = None) -> None:
        selected = select or (self.selected.path if self.selected else None)
        collapsed = {n.data.path for n in walk(self.root) if n.data and n.allow_expand and not n.is_expanded}
        self._shown = exps
        self.clear()
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
                    child = node.add(label, data=e, expand=e.path not in collapsed)
                    add(child, e.path.resolve(), depth + 1)
                else:
                    node.add_leaf(label, data=e)

        add(self.root, None, 0)
        if not exps:  # short lines, few of them: the pane is narrow on wide screens, low at 80x24
            where = f"no *.toml files in {self.folder.name}/" if self.folder.is_dir() else \
                f"no {self.folder.name}/ folder here"
            for line in (where, "run `workbench init` to write", "the examples, or pass", "--experiments-dir"):
                self.root.add_leaf(Text(line, style="dim"))
        self.root.expand()
        self.cursor_line = 0
        node = next((n for n in walk(self.root) if n.data and n.data.path == selected), None)
        if node is not None:
            parent = node.parent
            while parent is not None and select is not None:  # a file asked for is shown even in a fold
                parent.expand()
                parent = parent.parent
            self.move_cursor(node)
        self._show_error()

    def show_new(self, path: Path) -> None:
        """A file just written (saved overrides): in the tree at once, with the cursor on it."""
        self.load(select=path)
        self.focus()

    @staticmethod
    def _label(e: Experiment) -> Text:
        text = Text(e.name, style="bold red" if e.error else "bold")
        if e.error:
            text.append(f"  ✗ {e.error}", style="red")
        elif e.description:
            text.append(f"  {e.description}", style="dim")
        return text

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        self._show_error()

    def _show_error(self) -> None:
        """The selected file's error, whole, under the pane (the label is cut at the pane's edge)."""
        exp = self.selected
        self.border_subtitle = Text(f"✗ {exp.error}", style="red") if exp is not None and exp.error else ""

    @property
    def selected(self) -> Experiment | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def action_edit(self) -> None:
        from workbench.tui.editor import edit_file

        exp = self.selected
        if exp is None:
            self.notify("select an experiment file first", severity="warning")
            return
        if edit_file(self.app, exp.path):
            self.load(select=exp.path)
            after = self.selected
            if after is not None and after.path == exp.path and after.error:
                self.notify(after.error, title=f"{exp.name}.toml does not validate", severity="error", timeout=10)
