"""Run ids: the folder name is the id everywhere; an id is never a path (issue 11)."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from tests.conftest import cli, set_json, wait_for_pilot, write_fake_run
from workbench.errors import WorkbenchError
from workbench.store import RunStore, check_run_id


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "-rf", "a..b", "a b",
                                 "é", "x" * 201, "a\\b", "a\x00b"])
def test_bad_ids_are_refused(bad, runs_dir):
    with pytest.raises(WorkbenchError, match="not a valid run id"):
        check_run_id(bad)
    with pytest.raises(WorkbenchError, match="not a valid run id"):
        RunStore(runs_dir).run(bad)


@pytest.mark.parametrize("good", ["tiny-20261126-101010", "tiny-20261126-101010-2", "a.b_c", "x" * 200])
def test_good_ids_pass(good):
    assert check_run_id(good) == good


def test_made_ids_are_valid(runs_dir):
    store = RunStore(runs_dir)
    for name in ["../../etc", ".hidden", "-x", "a" * 500, "名前", "..", "x/../y"]:
        check_run_id(store.new_run_id(name, now=1.7e9))


@pytest.fixture
def crafted(tmp_path):
    """A run whose run.json says "id": "../../outside", next to a folder that must survive."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    store = RunStore(tmp_path / "store" / "runs")
    run = write_fake_run(store, "victim")
    set_json(run.info_path, id="../../outside")
    assert (store.root / "../../outside").resolve() == outside
    return store, run, outside


def test_listing_uses_the_folder_name(crafted, capsys):
    store, run, _ = crafted
    code, out, _ = cli(capsys, "ls", "--json", "--runs-dir", str(store.root))
    assert code == 0 and [r["id"] for r in json.loads(out)] == [run.id]
    assert [i.id for i in store.list_runs()] == [run.id]
    assert store.run(run.id).info().id == run.id


def test_rm_of_a_crafted_run_deletes_only_the_run(crafted, capsys):
    store, run, outside = crafted
    code, out, _ = cli(capsys, "rm", run.id, "--runs-dir", str(store.root))
    assert code == 0 and f"removed {run.id}" in out
    assert not run.path.exists() and (outside / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize("ref", ["../../outside", "..", "../outside", "runs/../../outside", ".", ".hidden"])
def test_commands_refuse_path_like_refs(crafted, capsys, ref):
    store, _, outside = crafted
    for command in (["rm", "--force"], ["show"], ["stop"], ["resume"], ["export"]):
        code, _, err = cli(capsys, *command, ref, "--runs-dir", str(store.root))
        assert code == 2 and "run id" in err, (command, err)
    assert (outside / "precious.txt").exists()


def test_a_path_inside_the_store_works_outside_does_not(crafted, capsys, tmp_path):
    store, run, outside = crafted
    code, out, _ = cli(capsys, "show", str(store.root / run.id), "--json", "--runs-dir", str(store.root))
    assert code == 0 and json.loads(out)["id"] == run.id
    elsewhere = tmp_path / "elsewhere" / run.id
    shutil.copytree(run.path, elsewhere)
    code, _, err = cli(capsys, "rm", str(elsewhere), "--runs-dir", str(store.root))
    assert code == 2 and "not a run id or a run folder in" in err and elsewhere.is_dir()


def test_copied_run_folder_lists_twice(crafted, capsys):
    store, run, _ = crafted
    shutil.copytree(run.path, store.root / f"{run.id}-copy")
    code, out, _ = cli(capsys, "ls", "--json", "--runs-dir", str(store.root))
    assert code == 0 and sorted(r["id"] for r in json.loads(out)) == sorted([run.id, f"{run.id}-copy"])


def test_tui_delete_and_copy_use_folder_names(crafted, tmp_path):
    """The hole of issue 11: `d` removed store.run(<id from run.json>), a folder outside the store.
    Also a copied run folder (same id inside) used to crash the table with DuplicateKey."""
    pytest.importorskip("textual")
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.confirm import ConfirmScreen
    from workbench.tui.widgets.runs_table import RunsTable

    store, run, outside = crafted
    shutil.copytree(run.path, store.root / f"{run.id}-copy")

    async def go() -> None:
        app = WorkbenchApp(store.root, tmp_path / "experiments", location="~", poll_interval=0.1)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.screen.query_one(RunsTable)
            await wait_for_pilot(pilot, lambda: table.row_count == 2, 10, "both runs in the table")
            assert sorted(r.id for r in table.shown) == sorted([run.id, f"{run.id}-copy"])
            table.focus()
            table.move_cursor(row=[r.id for r in table.shown].index(run.id))
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await wait_for_pilot(pilot, lambda: not run.path.exists(), 10, "the delete")

    asyncio.run(go())
    assert not run.path.exists() and (store.root / f"{run.id}-copy").is_dir()
    assert (outside / "precious.txt").read_text() == "keep me"
