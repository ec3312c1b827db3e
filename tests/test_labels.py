"""Tags and a note per run (workbench/labels.py): `workbench tag`, `workbench note`, `ls --tag`, `show`."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from tests.conftest import cli, write_fake_run
from workbench import labels
from workbench.config import Config
from workbench.errors import WorkbenchError
from workbench.store import RunStore


@pytest.fixture
def store(runs_dir):
    s = RunStore(runs_dir)
    cfg = Config()
    cfg.experiment.tags = ["base", "my run"]  # config accepts any string; 'my run' shows as my-run
    write_fake_run(s, "alpha", started=1.7e9, cfg=cfg)
    write_fake_run(s, "beta", status="stopped", started=1.7e9 + 60)
    return s


def tags_of(store: RunStore, ref: str) -> list[str]:
    r = store.resolve(ref)
    return labels.for_run(r.path, r.info().tags).tags


# ---------------------------------------------------------------- the module


def test_tag_rule_and_edits():
    assert labels.tag_problem("lr:3e-4/warm_up.v2") is None
    for bad in ("", "-x", "a b", "x" * 41, "é", "a\x1b", 3, None):
        assert labels.tag_problem(bad), bad
    assert labels.parse_edits(["+a", "-b", "c"]) == [("a", True), ("b", False), ("c", True)]
    with pytest.raises(WorkbenchError, match=r"'\+a b'.*letters, digits"):
        labels.parse_edits(["+a b"])
    with pytest.raises(WorkbenchError):
        labels.parse_edits(["+"])
    assert labels.clean_experiment_tag("my run") == "my-run" and labels.clean_experiment_tag(" !! ") is None


def test_experiment_tags_can_be_taken_off_and_put_back():
    exp = ["base", "gpu"]
    got = labels.apply_edits(labels.Labels(), exp, [("base", False), ("new", True), ("gpu", True), ("zz", False)])
    assert got.added == ["new"] and got.removed == ["base"]
    assert labels.effective_tags(exp, got) == ["gpu", "new"]
    back = labels.apply_edits(got, exp, [("base", True), ("new", False)])
    assert back.added == [] and back.removed == [] and labels.effective_tags(exp, back) == ["base", "gpu"]
    # run.json's tags are untrusted too: a non-list or odd items never break the effective tags
    assert labels.effective_tags("base", got) == ["new"]
    assert labels.effective_tags([1, None, "ok"], labels.Labels()) == ["ok"]


@pytest.mark.parametrize("content, why", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "holds a list"),
    (b'{"added": "baseline"}', "added should be a list"),
    (b'{"added": ["ok", 5]}', "added holds 5"),
    (b'{"removed": ["a b"]}', "removed holds \"a b\""),
    (b'{"added": [' + b",".join(b'"t%d"' % i for i in range(60)) + b"]}", "at most 50 tags"),
    (b'{"note": 42}', "note: a note is a string"),
    (json.dumps({"note": "x" * 1001}).encode(), "at most 1000 characters"),
    (json.dumps({"note": "red \x1b[31m"}).encode(), "control characters"),
    (json.dumps({"note": "flip \u202e"}).encode(), "control characters"),
    (b'{"note": "' + b"x" * 70_000 + b'"}', "larger than 64 KiB"),
])
def test_hostile_labels_file_is_ignored_with_a_reason(store, capsys, content, why):
    run = store.resolve("alpha")
    (run.path / "labels.json").write_bytes(content)
    got = labels.for_run(run.path, run.info().tags)
    assert why in got.problem and got.note == "" and got.tags == ["base", "my-run"]
    code, out, _ = cli(capsys, "ls", "--runs-dir", str(store.root))
    assert code == 0 and "tags and note ignored" in out and "beta-" in out
    code, out, _ = cli(capsys, "show", "alpha", "--json", "--runs-dir", str(store.root))
    assert code == 0 and why in json.loads(out)["labels_problem"]
    # a damaged file is not written over: the user is told what to do
    code, _, err = cli(capsys, "tag", "alpha", "+x", "--runs-dir", str(store.root))
    assert code == 2 and "labels.json" in err and "delete it" in err
    assert (run.path / "labels.json").read_bytes() == content


def test_labels_file_that_is_not_a_file_never_hangs_a_reader(store, tmp_path):
    import os

    run = store.resolve("alpha")
    os.mkfifo(run.path / "labels.json")  # opening a pipe for reading would wait for a writer
    assert "not a regular file" in labels.read(run.path).problem
    (run.path / "labels.json").unlink()
    (run.path / "labels.json").mkdir()
    assert labels.read(run.path).problem
    (run.path / "labels.json").rmdir()
    secret = tmp_path / "secret"
    secret.write_text("keep")
    (run.path / labels.LOCK_FILE).symlink_to(secret)  # the lock never follows a planted link
    with pytest.raises(WorkbenchError, match="cannot write labels"):
        labels.set_note(run.path, "hi")
    assert secret.read_text() == "keep"


def _add_tags(folder: str, prefix: str, n: int) -> None:
    for i in range(n):
        labels.edit_tags(folder, [], [(f"{prefix}{i}", True)])


def test_concurrent_writers_keep_every_edit(store):
    run = store.resolve("beta")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_tags, args=(str(run.path), f"p{k}-", 8)) for k in range(4)]
    for p in procs:
        p.start()
    _add_tags(str(run.path), "main-", 8)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    got = labels.read(run.path)
    assert not got.problem and len(got.added) == 40 and len(set(got.added)) == 40


def test_tagging_a_running_run_leaves_run_json_alone(runs_dir, capsys):
    store = RunStore(runs_dir)
    live = write_fake_run(store, "live", status="running")
    live.mark_running()  # this process owns it
    before = live.info_path.read_bytes()
    assert cli(capsys, "tag", "live", "+watching", "--runs-dir", str(runs_dir))[0] == 0
    assert cli(capsys, "note", "live", "still going", "--runs-dir", str(runs_dir))[0] == 0
    assert live.info_path.read_bytes() == before
    live.update_info(reason="the owner writes on")  # and the owner's writes do not touch the labels
    assert tags_of(store, "live") == ["watching"] and labels.read(live.path).note == "still going"


# ---------------------------------------------------------------- the commands


def test_tag_command_adds_removes_and_prints(store, capsys):
    root = str(store.root)
    code, out, _ = cli(capsys, "tag", "alpha", "--runs-dir", root)
    assert code == 0 and out.strip().endswith(": base my-run")
    code, out, _ = cli(capsys, "tag", "alpha", "+baseline", "-base", "wip", "--runs-dir", root)
    assert code == 0 and out.strip().endswith(": my-run baseline wip")
    # several runs, the store given after the edits
    code, out, _ = cli(capsys, "tag", "alpha", "beta", "-wip", "+sweep:lr", "--runs-dir", root)
    assert code == 0 and len(out.splitlines()) == 2
    assert tags_of(store, "alpha") == ["my-run", "baseline", "sweep:lr"] and tags_of(store, "beta") == ["sweep:lr"]
    code, out, _ = cli(capsys, "--runs-dir", root, "tag", "beta")
    assert out.strip().endswith(": sweep:lr")
    # a bare word before any +/-: a run id, and the error says how to add a tag
    code, _, err = cli(capsys, "tag", "alpha", "baseline", "--runs-dir", root)
    assert code == 2 and "write +baseline" in err
    code, _, err = cli(capsys, "tag", "alpha", "+no good", "--runs-dir", root)
    assert code == 2 and "letters, digits" in err
    code, _, err = cli(capsys, "tag", "nope", "+x", "--runs-dir", root)
    assert code == 2 and "no run matches 'nope'" in err
    code, out, _ = cli(capsys, "tag", "alpha", "-my-run", f"--runs-dir={root}")
    assert code == 0 and out.strip().endswith(": baseline sweep:lr")
    with pytest.raises(SystemExit) as e:  # --help among the edits is still help
        cli(capsys, "tag", "alpha", "+x", "--help")
    assert e.value.code == 0 and "+NAME adds" in capsys.readouterr().out


def test_note_command(store, capsys):
    root = str(store.root)
    code, out, _ = cli(capsys, "note", "alpha", "--runs-dir", root)
    assert code == 0 and "has no note" in out
    code, out, _ = cli(capsys, "note", "alpha", "-", "lr", "too", "high", "--runs-dir", root)
    assert code == 0 and "note saved" in out
    code, out, _ = cli(capsys, "note", "alpha", "--runs-dir", root)
    assert out.strip() == "- lr too high"
    code, _, err = cli(capsys, "note", "alpha", "x" * 1001, "--runs-dir", root)
    assert code == 2 and "at most 1000" in err
    code, _, err = cli(capsys, "note", "alpha", "bell\x07", "--runs-dir", root)
    assert code == 2 and "control characters" in err
    assert labels.read(store.resolve("alpha").path).note == "- lr too high"
    code, out, _ = cli(capsys, "note", "alpha", "", "--runs-dir", root)
    assert code == 0 and "note cleared" in out and labels.read(store.resolve("alpha").path).note == ""


def test_ls_tag_filter_column_and_json(store, capsys):
    root = str(store.root)
    cli(capsys, "tag", "beta", "+baseline", "--runs-dir", root)
    cli(capsys, "note", "beta", "the first try", "--runs-dir", root)
    code, out, _ = cli(capsys, "ls", "--runs-dir", root)
    header, *lines = out.splitlines()
    assert header.split()[-1] == "tags" and lines[0].endswith("baseline") and lines[1].endswith("base,my-run")
    code, out, _ = cli(capsys, "ls", "--tag", "base", "--runs-dir", root)
    assert "alpha-" in out and "beta-" not in out
    code, out, _ = cli(capsys, "ls", "--tag", "base", "--tag", "baseline", "--runs-dir", root)
    assert code == 0 and "no runs with tag 'base' and tag 'baseline' (2 runs in" in out
    code, _, err = cli(capsys, "ls", "--tag", "a b", "--runs-dir", root)
    assert code == 2 and "--tag 'a b'" in err
    code, out, _ = cli(capsys, "ls", "--json", "--tag", "baseline", "--runs-dir", root)
    rows = json.loads(out)
    assert [(r["tags"], r["note"]) for r in rows] == [(["baseline"], "the first try")]
    code, out, _ = cli(capsys, "show", "beta", "--runs-dir", root)
    assert "tags baseline" in out and "the first try" in out
    code, out, _ = cli(capsys, "show", "beta", "--json", "--runs-dir", root)
    data = json.loads(out)
    assert data["tags"] == ["baseline"] and data["note"] == "the first try" and data["labels_problem"] == ""


def test_ls_without_tags_has_no_tags_column(store, capsys, tmp_path):
    s = RunStore(tmp_path / "plain")
    write_fake_run(s, "gamma")
    code, out, _ = cli(capsys, "ls", "--runs-dir", str(s.root))
    assert code == 0 and "tags" not in out.splitlines()[0]
