"""Inside a run's model: attention maps by layer and head, at any kept checkpoint, for any prompt.

The maps come from a child process (`workbench attn … --json -`, see attention_process.py)
run in a worker thread: this screen never imports torch and never blocks while a
checkpoint loads. Each result holds every layer and head, so moving between them is
instant; results are kept per checkpoint file and prompt.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static
from textual.worker import get_current_worker

from workbench.attention_maps import DEFAULT_PROMPT, AttentionMaps, legend
from workbench.checkpoint_files import CheckpointFile, list_checkpoints
from workbench.errors import WorkbenchError
from workbench.formatting import fmt_bytes
from workbench.tui.attention_process import fetch_attention
from workbench.tui.messages import AttentionLoaded
from workbench.tui.widgets.attention_view import AttentionView


class InspectScreen(Screen):
    BINDINGS = [
        Binding("question_mark", "app.help", "help"),
        Binding("escape", "back", "back"),
        Binding("left_square_bracket", "checkpoint(-1)", "checkpoint", key_display="[ ]",
                tooltip="previous / next: init, kept steps, best, last"),
        Binding("right_square_bracket", "checkpoint(1)", "next checkpoint", show=False),
        Binding("t", "toggle_init", "init/trained"),
        Binding("a", "all_heads", "all heads"),
        Binding("p", "edit_prompt", "prompt", tooltip="edit it: enter runs it, esc keeps the old one"),
        # ←/→ and ↑/↓ are named in the header line rather than the footer
        Binding("left", "head(-1)", "previous head", show=False),
        Binding("right", "head(1)", "next head", show=False),
        Binding("up", "layer(-1)", "previous layer", show=False),
        Binding("down", "layer(1)", "next layer", show=False),
    ]

    def __init__(self, run_id: str, prompt: str = DEFAULT_PROMPT) -> None:
        super().__init__()
        self.run_id = run_id
        self.prompt = prompt
        self.ckpts: list[CheckpointFile] = []
        self.ckpt_at = 0
        self.trained = "last"  # where `t` goes back to from init
        self.layer_at, self.head_at = 0, 0  # head None: all heads side by side
        self.cache: dict[tuple, AttentionMaps] = {}
        self.problem = ""

    def compose(self) -> ComposeResult:
        yield Static(id="inspect-head")
        with Horizontal(id="inspect-bar"):
            yield Label("prompt ", id="inspect-prompt-label")
            prompt = Input(self.prompt, id="inspect-prompt", compact=True)
            prompt.can_focus = False  # the arrows are for layer and head until `p`
            yield prompt
            yield Static(legend(note=False), id="inspect-legend")
        yield AttentionView(id="inspect-maps")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.ckpts = list_checkpoints(self.app.store.run(self.run_id).path / "checkpoints")
        names = [c.name for c in self.ckpts]
        self.ckpt_at = names.index("last") if "last" in names else len(names) - 1
        self.reload()

    # ------------------------------------------------------------ loading (worker thread)

    @property
    def current(self) -> CheckpointFile | None:
        return self.ckpts[self.ckpt_at] if self.ckpts else None

    def cache_key(self) -> tuple:
        c = self.current
        try:
            mtime = c.path.stat().st_mtime_ns  # last.pt and best.pt change while a run goes on
        except OSError:
            mtime = 0
        return c.name, mtime, self.prompt

    def reload(self) -> None:
        self.problem = ""
        c = self.current
        if c is None:
            self.problem = ("this run has no checkpoints yet: they appear at checkpoint.interval, at the end "
                          "and on stop (keep the untrained model with checkpoint.keep_init = true)")
            self.redraw()
            return
        key = self.cache_key()
        if key in self.cache:
            self.redraw()
            return
        self.query_one(AttentionView).say(
            f"loading {c.label} ({fmt_bytes(c.size)}) and running the prompt through it…")
        self.update_head()
        self.fetch(c.name, self.prompt, key)

    @work(thread=True, exclusive=True, group="inspect")
    def fetch(self, name: str, prompt: str, key: tuple) -> None:
        worker = get_current_worker()
        runs_dir = self.app.store.root
        try:
            maps = fetch_attention(runs_dir, self.run_id, name, prompt, lambda: worker.is_cancelled)
        except WorkbenchError as e:
            self.post_message(AttentionLoaded(key, None, str(e)))
            return
        if maps is not None:
            self.post_message(AttentionLoaded(key, maps, ""))

    def on_attention_loaded(self, message: AttentionLoaded) -> None:
        if message.maps is not None:
            self.cache[message.key] = message.maps
        if self.current is not None and message.key == self.cache_key():
            self.problem = message.error
            self.redraw()

    # ------------------------------------------------------------ drawing

    def current_maps(self) -> AttentionMaps | None:
        return self.cache.get(self.cache_key()) if self.current is not None else None

    def redraw(self) -> None:
        view = self.query_one(AttentionView)
        maps = self.current_maps()
        if self.problem:
            view.say(self.problem)
        elif maps is not None:
            self.layer_at = min(self.layer_at, maps.n_layer - 1)
            self.head_at = None if self.head_at is None else min(self.head_at, maps.n_head - 1)
            view.show(maps, self.layer_at, self.head_at)
        self.update_head()

    def update_head(self) -> None:
        c, maps = self.current, self.current_maps()
        text = Text(no_wrap=True, overflow="ellipsis")  # the run id last: 80 columns may cut it
        if c is not None:
            step = f" @ step {maps.step}" if maps is not None and maps.step is not None and c.step is None else ""
            text.append(f"{c.label}{step}", style="bold")
            text.append(f" ({self.ckpt_at + 1}/{len(self.ckpts)}, {fmt_bytes(c.size)})  ")
        if maps is not None:
            head = "all" if self.head_at is None else f"{self.head_at + 1}/{maps.n_head}"
            text.append(f"layer {self.layer_at + 1}/{maps.n_layer} ↑↓  head {head} ←→  ", style="cyan")
        text.append(self.run_id, style="dim")
        self.query_one("#inspect-head", Static).update(text)

    # ------------------------------------------------------------ keys

    def action_back(self) -> None:
        prompt = self.query_one("#inspect-prompt", Input)
        if prompt.has_focus:  # esc while editing: keep the old prompt
            prompt.value = self.prompt
            self.stop_editing()
            return
        self.app.pop_screen()

    def action_checkpoint(self, delta: int) -> None:
        if not self.ckpts:
            return
        self.ckpt_at = (self.ckpt_at + delta) % len(self.ckpts)
        if self.current.name != "init":
            self.trained = self.current.name
        self.reload()

    def action_toggle_init(self) -> None:
        names = [c.name for c in self.ckpts]
        if self.current is not None and self.current.name == "init":
            target = self.trained if self.trained in names else names[-1]
        elif "init" in names:
            target = "init"
        else:
            self.notify("no initial checkpoint: runs keep one with checkpoint.keep_init = true",
                        severity="warning")
            return
        self.ckpt_at = names.index(target)
        self.reload()

    def action_all_heads(self) -> None:
        self.head_at = 0 if self.head_at is None else None
        self.redraw()

    def action_head(self, delta: int) -> None:
        maps = self.current_maps()
        if maps is None:
            return
        self.head_at = (0 if self.head_at is None else self.head_at + delta) % maps.n_head
        self.redraw()

    def action_layer(self, delta: int) -> None:
        maps = self.current_maps()
        if maps is None:
            return
        self.layer_at = (self.layer_at + delta) % maps.n_layer
        self.redraw()

    def action_edit_prompt(self) -> None:
        prompt = self.query_one("#inspect-prompt", Input)
        prompt.can_focus = True
        prompt.focus()

    def stop_editing(self) -> None:
        self.query_one("#inspect-prompt", Input).can_focus = False
        self.set_focus(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.stop_editing()
        if event.value and event.value != self.prompt:
            self.prompt = event.value
            self.reload()
        else:
            event.input.value = self.prompt
