"""The TUI's loose ends (issue 15): the events log follows after a resize, the experiment tree
refreshes and marks invalid files, `e` edits a file, overrides save as a new file, the runs table's
took and kind columns, mark feedback, Home/End, the empty profile pane, help from the bindings."""

from __future__ import annotations

import asyncio
import functools
import json

import pytest

pytest.importorskip("textual")

from conftest import wait_for_pilot  # noqa: E402

from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402
from workbench.tui.screens.home import HomeScreen  # noqa: E402
from workbench.tui.widgets.events_log import EventsLog  # noqa: E402


def sync(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def app_for(store_dirs) -> WorkbenchApp:
    runs, exps = store_dirs
    return WorkbenchApp(runs, exps, location="~/demo", poll_interval=0.1)


async def home_loaded(pilot) -> HomeScreen:
    from workbench.tui.widgets.experiment_tree import ExperimentTree

    return await wait_for_pilot(pilot, lambda: isinstance(pilot.app.screen, HomeScreen) and pilot.app.screen.is_mounted
                                and pilot.app.screen.query_one(ExperimentTree).root.children
                                and pilot.app.screen, what="home")


async def open_dashboard(pilot, run_id: str) -> DashboardScreen:
    await home_loaded(pilot)
    pilot.app.open_run(run_id)
    return await wait_for_pilot(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen)
                                and pilot.app.screen.query(EventsLog) and pilot.app.screen,
                                what="the dashboard")


# ---------------------------------------------------------------- events log


@sync
async def test_events_log_follows_the_newest_line_after_a_resize(tui_store, pinned_tui):
    runs, _ = tui_store
    log = runs / "tiny-20260101-120000" / "train.log"
    log.write_text("".join(f"line {i} of the log\n" for i in range(40)))
    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = await open_dashboard(pilot, "tiny-20260101-120000")
        events = dash.query_one(EventsLog)
        await wait_for_pilot(pilot, lambda: events.log_lines and events.max_scroll_y > 0, what="the log")

        def at_end() -> bool:
            return events.max_scroll_y > 0 and events.scroll_y == events.max_scroll_y

        await wait_for_pilot(pilot, at_end, what="the log at its end")
        for size in ((200, 50), (80, 24), (100, 30)):
            await pilot.resize_terminal(*size)
            await wait_for_pilot(pilot, at_end, what=f"the log at its end at {size}", timeout=5)
        log.write_text(log.read_text() + "the newest line\n")
        await wait_for_pilot(pilot, lambda: events.log_lines[-1] == "the newest line" and at_end(),
                             what="the new line, followed", timeout=5)
        # scrolled up on purpose: it stays there, through a resize and a new line
        events.focus()
        await pilot.press("home")
        assert events.scroll_y == 0
        await pilot.resize_terminal(90, 26)
        log.write_text(log.read_text() + "one more line\n")
        await wait_for_pilot(pilot, lambda: events.log_lines[-1] == "one more line", what="one more line")
        await pilot.pause(0.3)
        assert events.scroll_y == 0
        await pilot.press("end")
        await wait_for_pilot(pilot, at_end, what="back at the end")


# ---------------------------------------------------------------- runs table


def add_long_and_profile_runs(tui_store) -> None:
    """A long-named run that took 3m05s, and a `workbench profile` run (20 steps of a 200-step file)."""
    from fixtures_store import T0, add_run

    from workbench.store import RunStore

    runs, exps = tui_store
    store = RunStore(runs)
    (exps / "speed-ladder-bf16-compiled.toml").write_text('[experiment]\nextends = "tiny.toml"\n')
    add_run(store, exps, "speed-ladder-bf16-compiled-20260101-140000", "speed-ladder-bf16-compiled", "finished",
            200, T0 + 7000)
    run = store.run("speed-ladder-bf16-compiled-20260101-140000")
    run.update_info(summary={**run.info().summary, "wall_time_s": 185.0})
    add_run(store, exps, "tiny-20260101-141000", "tiny", "finished", 20, T0 + 7100)
    prof = store.run("tiny-20260101-141000")
    prof.profile_path.write_text('{"device": "cpu", "verdict": "10 ms per step", "table": [], "breakdown": []}')
    prof.update_info(reason="profile")


@sync
async def test_runs_table_fits_80_columns_with_took_and_kind(tui_store, pinned_tui):
    from workbench.tui.widgets.runs_table import RunsTable

    add_long_and_profile_runs(tui_store)
    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        table = (await home_loaded(pilot)).query_one(RunsTable)
        await wait_for_pilot(pilot, lambda: table.row_count == 5, what="five runs")

        def cell(run_id: str, key: str) -> str:
            return str(table.get_cell(run_id, key))

        for size in ((80, 24), (120, 30), (200, 50), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.2)
            assert table.max_scroll_x == 0, size  # every column whole: nothing past the edge
            assert cell("speed-ladder-bf16-compiled-20260101-140000", "dur") == "3m05"
            assert "140000" in cell("speed-ladder-bf16-compiled-20260101-140000", "run")
            assert cell("tiny-20260101-141000", "kind") == "prof"
            assert cell("tiny-20260101-141000", "step") == "20"  # not 20/200: it is no cut-short training run
            assert cell("tiny-20260101-120000", "kind") == "" and cell("tiny-20260101-120000", "step") == "200/200"
        assert [c.key.value for c in table.columns.values()][-1] == "dur"


@sync
async def test_space_says_what_it_marked_and_home_end_move_the_cursor(tui_store, pinned_tui):
    from workbench.tui.widgets.runs_table import RunsTable

    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        table = (await home_loaded(pilot)).query_one(RunsTable)
        await wait_for_pilot(pilot, lambda: table.row_count == 3, what="the runs")
        await pilot.press("tab", "end")
        assert table.cursor_row == 2
        await pilot.press("home")
        assert table.cursor_row == 0
        first = table.current_id
        await pilot.press("space")
        assert table.marked == {first} and table.cursor_row == 1
        assert "1 marked" in table.border_title
        assert str(table.get_cell(first, "run")).startswith("*")
        assert any(f"marked {first} · 1 marked" in n.message and "cursor moved down" in n.message
                   for n in app._notifications)
        await pilot.press("space")
        assert any("2 marked · c compares" in n.message for n in app._notifications)
        await pilot.press("pagedown")
        assert table.cursor_row == 2
        await pilot.press("pageup")
        assert table.cursor_row == 0


# ---------------------------------------------------------------- profile pane


@sync
async def test_p_without_a_profile_says_how_to_make_one(tui_store, pinned_tui):
    from workbench.tui.widgets.profile_pane import ProfilePane
    from workbench.tui.widgets.sample_view import SampleView

    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = await open_dashboard(pilot, "tiny-20260101-120000")
        pane = dash.query_one(ProfilePane)
        assert not pane.display
        height = dash.query_one(SampleView).outer_size.height
        await pilot.press("p")
        await pilot.pause(0.1)
        assert pane.display and not dash.query_one(SampleView).display
        text = str(pane.query_one("#profile-text").render())
        assert "no profile of this run" in text and "workbench profile tiny.toml" in text
        assert pane.outer_size.height == height  # the pane fills the samples' place: no blank hole
        await pilot.press("p")
        assert dash.query_one(SampleView).display


def rendered(renderable, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_profile_operator_names_keep_their_distinguishing_tails():
    from workbench.tui.widgets.profile_pane import render_profile

    head = "autograd::engine::evaluate_function: "
    profile = {"device": "cpu", "precision": "fp32", "verdict": "", "breakdown": [],
               "table": [{"name": head + "MmBackward0", "self_cpu_ms": 1.0, "self_cuda_ms": None, "calls": 3},
                         {"name": head + "AddmmBackward0", "self_cpu_ms": 0.5, "self_cuda_ms": None, "calls": 3},
                         {"name": head + "AddBackward0", "self_cpu_ms": 0.4, "self_cuda_ms": None, "calls": 3}]}
    for width in (50, 60, 120):
        text = rendered(render_profile(profile, width=width), width)
        rows = [ln for ln in text.splitlines() if "autograd" in ln]
        assert len(rows) == 3, text
        for tail in ("MmBackward0", "AddmmBackward0", "AddBackward0"):  # each row still says which
            assert sum(tail in row for row in rows) == 1, text
        assert "self CUDA ms" not in text  # a CPU profile: no column of dashes


def test_no_tf32_advice_on_a_cpu():
    from workbench.profiling import verdict

    breakdown = [{"category": "matmuls", "cpu_share": 0.6, "cuda_share": 0.6},
                 {"category": "other", "cpu_share": 0.4, "cuda_share": 0.3},
                 {"category": "idle GPU", "cpu_share": None, "cuda_share": 0.1}]
    cpu = verdict(breakdown, cuda=False, ms_per_step=10.0)
    assert "Matmuls dominate" in cpu and "tf32" not in cpu and "bf16" not in cpu
    gpu = verdict(breakdown, cuda=True, ms_per_step=10.0, faster="system.precision = 'tf32' or 'bf16'")
    assert "system.precision = 'tf32' or 'bf16' makes them faster" in gpu


def test_precision_advice_follows_the_device(monkeypatch):
    from types import SimpleNamespace

    torch = pytest.importorskip("torch")
    from workbench.profiling import faster_precision

    def setup(device: str, precision: str):
        return SimpleNamespace(device=torch.device(device), precision=precision)

    assert faster_precision(setup("cpu", "fp32")) == ""
    capability = {"value": (8, 0)}
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability["value"])
    assert faster_precision(setup("cuda:0", "fp32")) == "system.precision = 'tf32' or 'bf16'"
    assert faster_precision(setup("cuda:0", "tf32")) == "system.precision = 'bf16'"
    assert faster_precision(setup("cuda:0", "bf16")) == ""
    capability["value"] = (7, 0)  # V100: no tf32
    assert faster_precision(setup("cuda:0", "fp32")) == "system.precision = 'fp16'"
    capability["value"] = (6, 1)
    assert faster_precision(setup("cuda:0", "fp32")) == ""


# ---------------------------------------------------------------- experiment tree


def tree_names(tree) -> list[str]:
    from workbench.tui.widgets.experiment_tree import walk

    return [n.data.name for n in walk(tree.root) if n.data]


@sync
async def test_experiment_tree_follows_the_folder_and_marks_invalid_files(tui_store, pinned_tui):
    from workbench.tui.widgets.experiment_tree import ExperimentTree

    _, exps = tui_store
    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = (await home_loaded(pilot)).query_one(ExperimentTree)
        await wait_for_pilot(pilot, lambda: "tiny" in tree_names(tree), what="the tree")
        tree.move_cursor(next(n for n in walk_nodes(tree) if n.data and n.data.name == "tiny"))
        assert tree.selected.name == "tiny" and not tree.selected.error
        # a new file (sorted before tiny), one with an unknown key, one with a bad type
        (exps / "a-new.toml").write_text('[experiment]\ndescription = "new"\n')
        (exps / "b-typo.toml").write_text('[train]\nlrr = 0.1\n')
        (exps / "c-type.toml").write_text('[train]\nmax_steps = "many"\n')
        await wait_for_pilot(pilot, lambda: {"a-new", "b-typo", "c-type"} <= set(tree_names(tree)),
                             what="the new files, without a restart", timeout=8)
        assert tree.selected.name == "tiny"  # the cursor stayed on its file
        by_name = {n.data.name: n.data for n in walk_nodes(tree) if n.data}
        assert not by_name["a-new"].error
        assert "unknown key 'train.lrr'" in by_name["b-typo"].error and "did you mean 'train.lr'" in by_name["b-typo"].error
        assert "'train.max_steps' must be an integer" in by_name["c-type"].error
        assert "\n" not in by_name["b-typo"].error and str(exps) not in by_name["b-typo"].error
        assert "✗" in str(next(n for n in walk_nodes(tree) if n.data and n.data.name == "b-typo").label)
        # an edit that breaks a parent marks its child too; deleting a file takes it away
        (exps / "char.toml").write_text('[train]\nmax_steps = 400\nwarmup = 3\n')
        await wait_for_pilot(pilot, lambda: tree.selected.name == "tiny" and tree.selected.error,
                             what="tiny marked through its parent", timeout=8)
        assert "unknown key 'train.warmup'" in tree.selected.error
        assert "train.warmup" in str(tree.border_subtitle)  # the whole line, under the pane
        (exps / "a-new.toml").unlink()
        await wait_for_pilot(pilot, lambda: "a-new" not in tree_names(tree), what="the deleted file gone", timeout=8)
        assert tree.selected.name == "tiny"


def walk_nodes(tree):
    from workbench.tui.widgets.experiment_tree import walk

    return list(walk(tree.root))


def test_files_are_validated_again_only_when_they_or_their_parents_change(tui_store, monkeypatch):
    from workbench.tui import experiment_files

    _, exps = tui_store
    calls = []
    real = experiment_files.load_config
    monkeypatch.setattr(experiment_files, "load_config", lambda p, *a: calls.append(p) or real(p, *a))
    files = experiment_files.ExperimentFiles(exps)
    first = files.scan()
    assert len(calls) == len([e for e in first if "not valid TOML" not in e.error])
    assert not files.changed()
    calls.clear()
    files.scan()
    assert calls == []  # nothing changed: nothing read again
    (exps / "char.toml").write_text('[train]\nmax_steps = 300\n')
    assert files.changed()
    files.scan()
    assert sorted(p.name for p in calls) == ["char.toml", "fast.toml", "tiny.toml"]  # char and its children


@sync
async def test_e_edits_the_file_in_the_editor_and_validates_it_again(tui_store, pinned_tui, tmp_path, monkeypatch):
    import contextlib

    from workbench.tui.widgets.experiment_tree import ExperimentTree

    _, exps = tui_store
    editor = tmp_path / "fake-editor"
    editor.write_text('#!/bin/sh\nprintf "[model]\\nn_layr = 1\\n" >> "$1"\n')  # appends an unknown key
    editor.chmod(0o755)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{editor} ")
    app = app_for(tui_store)
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)  # the headless test driver has no terminal
    async with app.run_test(size=(80, 24)) as pilot:
        tree = (await home_loaded(pilot)).query_one(ExperimentTree)
        await wait_for_pilot(pilot, lambda: "tiny" in tree_names(tree), what="the tree")
        tree.move_cursor(next(n for n in walk_nodes(tree) if n.data and n.data.name == "ladder/fast"))
        await pilot.press("e")
        assert "n_layr = 1" in (exps / "ladder" / "fast.toml").read_text()
        assert tree.selected.name == "ladder/fast" and "unknown key 'model.n_layr'" in tree.selected.error
        assert any("does not validate" in (n.title or "") for n in app._notifications)
        # no editor anywhere: said, nothing run
        monkeypatch.setenv("EDITOR", "no-such-editor-here")
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        await pilot.press("e")
        assert any("no editor found" in n.message and "$EDITOR='no-such-editor-here'" in n.message
                   for n in app._notifications)


# ---------------------------------------------------------------- save overrides as a new experiment


@sync
async def test_overrides_save_as_a_new_experiment_file(tui_store, pinned_tui):
    from workbench.config import load_config, read_toml
    from workbench.tui.screens.overrides import OverridesScreen
    from workbench.tui.widgets.experiment_tree import ExperimentTree

    _, exps = tui_store
    char_before = (exps / "char.toml").read_text()
    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = (await home_loaded(pilot)).query_one(ExperimentTree)
        await wait_for_pilot(pilot, lambda: "tiny" in tree_names(tree), what="the tree")
        tree.move_cursor(next(n for n in walk_nodes(tree) if n.data and n.data.name == "tiny"))
        await pilot.press("S")
        assert isinstance(app.screen, OverridesScreen)
        await pilot.press(*"train.lr=0.01 model.n_layer=3", "ctrl+s")
        name_box = app.screen.query_one("#save-name")
        assert name_box.display and name_box.has_focus and name_box.value == "tiny-lr0.01-n_layer3"
        # refuses to overwrite a file that exists
        name_box.value = "char"
        await pilot.press("enter")
        assert isinstance(app.screen, OverridesScreen)
        assert "exists already" in str(app.screen.query_one("#overrides-error").render())
        assert (exps / "char.toml").read_text() == char_before
        name_box.value = "tiny-faster"
        await pilot.press("enter")
        await wait_for_pilot(pilot, lambda: not isinstance(app.screen, OverridesScreen), what="the dialog to close")
        new = exps / "tiny-faster.toml"
        assert read_toml(new) == {"experiment": {"extends": "tiny.toml"}, "train": {"lr": 0.01},
                                  "model": {"n_layer": 3}}
        cfg = load_config(new)
        assert (cfg.train.lr, cfg.model.n_layer, cfg.model.n_embd) == (0.01, 3, 32)  # the rest from tiny
        assert tree.selected.name == "tiny-faster" and not tree.selected.error and tree.has_focus
        assert tree.selected.extends == "tiny.toml"
        assert not list(app.store.root.glob("tiny-faster*"))  # saved, not started
        # esc from the name goes back to the overrides; a bad override is said in the dialog
        await pilot.press("S", *"train.lrr=1", "ctrl+s")
        assert "did you mean" in str(app.screen.query_one("#overrides-error").render())
        assert not app.screen.query_one("#save-name").display
        await pilot.press("escape")
        assert not isinstance(app.screen, OverridesScreen)


# ---------------------------------------------------------------- help from the real bindings


def help_groups(app) -> dict[str, dict[str, str]]:
    from workbench.tui.screens.help import binding_groups

    return {title: dict(rows) for title, rows in binding_groups(app, app.screen_stack[-2])}


@sync
async def test_help_lists_the_bindings_of_the_screen_it_was_opened_from(tui_store, pinned_tui):
    from workbench.tui.screens.help import HelpScreen

    app = app_for(tui_store)
    async with app.run_test(size=(100, 40)) as pilot:
        await home_loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        groups = help_groups(app)
        assert list(groups)[0] == "Home" and "Everywhere" in groups
        assert groups["Home: experiment tree"]["e"].startswith("edit")
        assert groups["Home: runs table"]["space"] == "mark" and groups["Home: runs table"]["end"] == "last run"
        assert groups["Everywhere"]["q ^c"] == "quit"
        shown = rendered(app.screen.query_one("#help Static").content, 100)
        assert "Home: experiment tree" in shown and "edit the file" not in shown and "ctrl+s there saves" in shown
        assert "a file with [sweep] starts" in " ".join(shown.split())  # plain text, not markup
        await pilot.press("escape")
        dash = await open_dashboard(pilot, "tiny-20260101-120000")
        await pilot.press("question_mark")
        groups = help_groups(app)
        assert app.screen_stack[-2] is dash and list(groups)[0] == "Dashboard"
        assert groups["Dashboard"]["t"] == "x-axis: step, tokens, wall time"
        assert groups["Dashboard"]["+ ="].startswith("smoother")
        assert "?" not in groups["Everywhere"]  # the dashboard binds it too: said once


@sync
async def test_a_binding_added_to_a_screen_appears_in_help(tui_store, pinned_tui):
    from textual.binding import Binding

    from workbench.tui.screens.help import HelpScreen

    class MoreKeys(DashboardScreen):
        BINDINGS = [Binding("k", "app.bell", "ring the bell", show=False)]

    app = app_for(tui_store)
    async with app.run_test(size=(100, 40)) as pilot:
        await home_loaded(pilot)
        app.push_screen(MoreKeys("tiny-20260101-120000"))
        await wait_for_pilot(pilot, lambda: isinstance(app.screen, MoreKeys) and app.screen.query(EventsLog),
                             what="the screen")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        groups = help_groups(app)
        assert groups["MoreKeys"]["k"] == "ring the bell" and groups["MoreKeys"]["x"] == "stop"


def test_every_binding_has_a_description():
    import importlib
    import inspect
    import pkgutil

    import workbench.tui

    found = 0
    for mod in pkgutil.walk_packages(workbench.tui.__path__, "workbench.tui."):
        for _, cls in inspect.getmembers(importlib.import_module(mod.name), inspect.isclass):
            if cls.__module__ == mod.name and "BINDINGS" in cls.__dict__:
                for b in cls.__dict__["BINDINGS"]:
                    found += 1
                    description = b.description if hasattr(b, "description") else (b[2] if len(b) > 2 else "")
                    assert description.strip(), f"{cls.__name__}: {b}"
    assert found > 50


@sync
async def test_home_end_and_pages_scroll_the_dashboard_panes(tui_store, pinned_tui):
    from workbench.tui.widgets.config_diff import ConfigDiff
    from workbench.tui.widgets.profile_pane import ProfilePane

    runs, _ = tui_store
    table = [{"name": f"aten::op_{i}", "self_cpu_ms": 1.0, "self_cuda_ms": None, "calls": 1} for i in range(12)]
    (runs / "tiny-20260101-120000" / "profile.json").write_text(json.dumps(
        {"device": "cpu", "precision": "fp32", "verdict": "v", "breakdown": [], "table": table}))
    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = await open_dashboard(pilot, "tiny-20260101-120000")
        config = dash.query_one(ConfigDiff)
        await wait_for_pilot(pilot, lambda: config.own is not None, what="the config")
        await pilot.press("f")
        profile = dash.query_one(ProfilePane)
        assert profile.display  # a run with a profile opens on it
        for pane in (config, profile):
            pane.focus()
            await pilot.pause(0.1)
            assert pane.max_scroll_y > 0
            await pilot.press("end")
            await wait_for_pilot(pilot, lambda p=pane: p.scroll_y == p.max_scroll_y, what="the end")
            await pilot.press("home")
            await wait_for_pilot(pilot, lambda p=pane: p.scroll_y == 0, what="the top")
            await pilot.press("pagedown")
            await wait_for_pilot(pilot, lambda p=pane: p.scroll_y > 0, what="a page down")


@sync
async def test_no_experiments_folder_hint_is_whole_at_80x24(tmp_path):
    from workbench.tui.widgets.experiment_tree import ExperimentTree

    app = WorkbenchApp(tmp_path / "runs", tmp_path / "experiments", location="~", poll_interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = (await home_loaded(pilot)).query_one(ExperimentTree)
        lines = [str(node.label) for node in tree.root.children]
        assert lines[0] == "no experiments/ folder here" and any("workbench init" in ln for ln in lines)
        await pilot.pause(0.1)
        assert tree.scrollable_content_region.height >= len(lines)  # no line below the pane's edge
        assert tree.scrollable_content_region.width >= max(len(ln) for ln in lines)
        (tmp_path / "experiments").mkdir()
        (tmp_path / "experiments" / "new.toml").write_text("[train]\nmax_steps = 5\n")
        await wait_for_pilot(pilot, lambda: tree.selected is not None and tree.selected.name == "new",
                             what="the folder's first file", timeout=8)


def test_command_and_sweep_files_are_checked_by_their_own_loaders(tmp_path):
    """A [command] file (someone's own script) or a [sweep] file is not an experiment with unknown
    keys: each is checked as `workbench run` and `workbench sweep` read it."""
    import sys

    from workbench.tui.experiment_files import ExperimentFiles

    (tmp_path / "mine.toml").write_text(f'[experiment]\nname = "mine"\n\n[command]\nargv = ["{sys.executable}", "-c", "0"]\n')
    (tmp_path / "broken.toml").write_text('[experiment]\nname = "broken"\n\n[command]\nargv = "not a list"\n')
    errors = {e.name: e.error for e in ExperimentFiles(tmp_path).scan()}
    assert errors["mine"] == ""
    assert "argv" in errors["broken"]
