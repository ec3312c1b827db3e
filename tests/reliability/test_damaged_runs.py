"""One bad run never breaks the others: every reader shows it as a `damaged` row with the reason
and goes on; show/compare on it give one line (issue 11)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import cli, wait_for_pilot, write_fake_run
from workbench.store import RunStore
from workbench.tui import poller

DAMAGE = {
    "list": ("run.json", "[]", "holds a list"),
    "empty-object": ("run.json", "{}", "no valid status"),
    "bad-json": ("run.json", '{"status": "finished", ', "not valid JSON"),
    "wrong-types": ("run.json", json.dumps({"status": "finished", "started": "yesterday"}), "started should be"),
    "bad-summary": ("run.json", json.dumps({"status": "finished", "summary": {"step": "many"}}), "summary.step"),
    "not-utf8": ("run.json", b"\xff\xfe{", "cannot be read"),
    "corrupt-db": ("metrics.sqlite", b"this is not a database" * 100, "metrics.sqlite cannot be read"),
}


@pytest.fixture
def store(runs_dir):
    """Two good runs and one damaged the way `request.param` names."""
    s = RunStore(runs_dir)
    write_fake_run(s, "good", started=1.7e9)
    write_fake_run(s, "other", started=1.7e9 + 10)
    return s


def damage(store: RunStore, kind: str):
    run = write_fake_run(store, "bad", status="crashed", started=1.7e9 + 20)
    name, content, _ = DAMAGE[kind]
    for suffix in ("-wal", "-shm"):
        (run.path / f"{name}{suffix}").unlink(missing_ok=True)
    path = run.path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return run


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_ls_and_json_show_a_damaged_row(store, capsys, kind):
    bad = damage(store, kind)
    reason = DAMAGE[kind][2]
    code, out, err = cli(capsys, "ls", "--json", "--runs-dir", str(store.root))
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)}
    assert len(rows) == 3 and rows[bad.id]["status"] == "damaged" and reason in rows[bad.id]["reason"]
    assert {r["status"] for i, r in rows.items() if i != bad.id} == {"finished"}
    code, out, _ = cli(capsys, "ls", "--runs-dir", str(store.root))
    assert code == 0 and "good-" in out and "other-" in out and f"{bad.id}: damaged: " in out
    code, out, _ = cli(capsys, "ls", "--status", "damaged", "--json", "--runs-dir", str(store.root))
    assert [r["id"] for r in json.loads(out)] == [bad.id]


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_show_and_compare_say_one_line(store, capsys, kind):
    bad = damage(store, kind)
    for args in (["show", bad.id], ["show", bad.id, "--json"], ["compare", "good", bad.id]):
        code, out, err = cli(capsys, *args, "--runs-dir", str(store.root))
        assert code == 2 and err.count("\n") == 1 and f"{bad.id} is damaged: " in err, (args, err)
        assert DAMAGE[kind][2] in err and "Traceback" not in err
    code, _, _ = cli(capsys, "show", "good", "--runs-dir", str(store.root))
    assert code == 0


@pytest.mark.parametrize("kind", ["list", "corrupt-db"])
def test_damaged_runs_are_not_resumed_or_written(store, capsys, kind):
    bad = damage(store, kind)
    (bad.path / "checkpoints").mkdir(exist_ok=True)
    (bad.path / "checkpoints/last.pt").write_bytes(b"not reached")
    before = (bad.path / "run.json").read_bytes()
    code, _, err = cli(capsys, "resume", bad.id, "--runs-dir", str(store.root))
    assert code == 2 and f"{bad.id} is damaged" in err, err
    assert (bad.path / "run.json").read_bytes() == before
    code, out, _ = cli(capsys, "rm", bad.id, "--runs-dir", str(store.root))  # it can go, though
    assert code == 0 and not bad.path.exists()


def test_tui_pollers_show_damaged_rows(store):
    bad = damage(store, "list")
    corrupt = damage(store, "corrupt-db")
    rows = {r.id: r for r in poller.RunsPoller(store).poll()}
    assert len(rows) == 4
    assert rows[bad.id].status == "damaged" and "holds a list" in rows[bad.id].reason
    assert rows[corrupt.id].status == "damaged" and "metrics.sqlite" in rows[corrupt.id].reason
    snap = poller.RunTail(corrupt).poll()
    assert snap.info.status == "damaged" and "metrics.sqlite" in snap.info.reason
    data = poller.compare_data(store, [bad.id, corrupt.id, store.resolve("good").id])
    assert data["infos"][corrupt.id].status == "damaged" and data["summaries"][bad.id] == {}


def test_tui_lists_damaged_runs_and_says_why(store, tmp_path):
    pytest.importorskip("textual")
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.home import HomeScreen
    from workbench.tui.widgets.runs_table import RunsTable

    bad = damage(store, "empty-object")

    async def go() -> None:
        app = WorkbenchApp(store.root, tmp_path / "experiments", location="~", poll_interval=0.1)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.screen.query_one(RunsTable)
            await wait_for_pilot(pilot, lambda: table.row_count == 3, 10, "three runs in the table")
            statuses = {r.id: r.status for r in table.shown}
            assert statuses[bad.id] == "damaged" and len(statuses) == 3
            table.focus()
            table.move_cursor(row=[r.id for r in table.shown].index(bad.id))
            await pilot.press("enter")
            await wait_for_pilot(pilot, lambda: any("no valid status" in n.message for n in app._notifications),
                                 5, "the reason as a notification")
            assert isinstance(app.screen, HomeScreen)

    asyncio.run(go())
