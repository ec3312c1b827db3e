"""`workbench import` of archives from anyone: bombs, duplicates, cut-off archives, incomplete runs,
bad ids. Each is refused with one line and exit 2, and leaves nothing in the store (issue 11)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time

import pytest

from tests.conftest import cli, set_json, write_fake_run
from workbench import run_archive
from workbench.store import RunStore


class Zeros:
    """n zero bytes, made as they are read: a bomb's payload without holding it in memory."""

    def __init__(self, n: int):
        self.left = n

    def read(self, k: int = -1) -> bytes:
        k = self.left if k < 0 else min(k, self.left)
        self.left -= k
        return b"\0" * k


def archive(path, members, mode="w:gz"):
    """members: (name, bytes | int) — an int is that many zero bytes."""
    with tarfile.open(path, mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = data if isinstance(data, int) else len(data)
            tar.addfile(info, Zeros(data) if isinstance(data, int) else io.BytesIO(data))
    return path


@pytest.fixture
def exported(tmp_path, capsys):
    """A real run exported with a checkpoint, and the store it came from."""
    store = RunStore(tmp_path / "src")
    run = write_fake_run(store, "alpha")
    ckpt = run.path / "checkpoints"
    ckpt.mkdir()
    (ckpt / "last.pt").write_bytes(bytes(range(256)) * 400)
    (ckpt / ".last.pt.tmp4242").write_bytes(b"half a checkpoint")  # a writer killed mid-save
    out = tmp_path / "alpha.tar.gz"
    code, _, _ = cli(capsys, "export", run.id, "-o", str(out), "--runs-dir", str(store.root))
    assert code == 0
    return run, out


def refused(capsys, tmp_path, path, *flags) -> str:
    """Import `path`; assert exit 2, one line on stderr, no traceback, nothing left in the store."""
    runs = tmp_path / "dest"
    code, out, err = cli(capsys, "import", str(path), "--runs-dir", str(runs), *flags)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("workbench: error:"), err
    assert not runs.exists() or list(runs.iterdir()) == []  # no run, no hidden temp folder
    return err


def test_export_leaves_out_unfinished_files(exported):
    run, out = exported
    names = tarfile.open(out).getnames()
    assert f"{run.id}/checkpoints/last.pt" in names and f"{run.id}/run.json" in names
    assert not [n for n in names if ".tmp" in n]


def test_roundtrip_and_id_repairs(exported, tmp_path, capsys):
    run, out = exported
    dest = tmp_path / "dest"
    code, msg, _ = cli(capsys, "import", str(out), "--runs-dir", str(dest))
    assert code == 0 and f"imported {run.id}" in msg
    assert (dest / run.id / "checkpoints/last.pt").read_bytes() == (run.path / "checkpoints/last.pt").read_bytes()
    code, _, err = cli(capsys, "import", str(out), "--runs-dir", str(dest))
    assert code == 2 and "already exists" in err and "--as" in err
    code, _, _ = cli(capsys, "import", str(out), "--runs-dir", str(dest), "--as", "alpha-from-bob")
    assert code == 0 and RunStore(dest).run("alpha-from-bob").info().status == "finished"
    assert json.loads((dest / "alpha-from-bob/run.json").read_text())["id"] == "alpha-from-bob"
    assert sorted(p.name for p in dest.iterdir()) == sorted([run.id, "alpha-from-bob"])


def test_crafted_id_inside_run_json_is_replaced(exported, tmp_path, capsys):
    run, _ = exported
    set_json(run.info_path, id="../../outside")
    path = tmp_path / "crafted.tar.gz"
    run_archive.pack(run, path)
    dest = tmp_path / "dest"
    code, _, _ = cli(capsys, "import", str(path), "--runs-dir", str(dest))
    assert code == 0 and json.loads((dest / run.id / "run.json").read_text())["id"] == run.id


def test_bad_top_folder_name_is_refused_or_renamed(tmp_path, capsys, exported):
    run, _ = exported
    files = [(f".hidden/{p.relative_to(run.path)}", p.read_bytes())
             for p in sorted(run.path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    path = archive(tmp_path / "bad-id.tar.gz", files)
    assert "not a valid run id" in refused(capsys, tmp_path, path)
    assert "not a valid run id" in refused(capsys, tmp_path, path, "--as", "../x")
    code, _, _ = cli(capsys, "import", str(path), "--runs-dir", str(tmp_path / "dest"), "--as", "renamed")
    assert code == 0 and RunStore(tmp_path / "dest").run("renamed").config().experiment.name == "alpha"


def test_gzip_bomb_one_member_refused_at_its_header(tmp_path, capsys):
    """The bomb of issue 11 (3 MB that wrote 3.1 GB), scaled down by lowering the limit."""
    path = archive(tmp_path / "bomb.tar.gz", [("run-1/run.json", b"{}"), ("run-1/zeros", 64 * 2**20)])
    assert path.stat().st_size < 200_000
    t0 = time.monotonic()
    err = refused(capsys, tmp_path, path, "--max-size", "1M")
    assert "unpacks to more than 1 MiB" in err and "--max-size" in err
    assert time.monotonic() - t0 < 5


def test_gzip_bomb_many_members_stops_at_the_limit(tmp_path, capsys):
    members = [("run-1/run.json", b"{}")] + [(f"run-1/z{i}", 2**20) for i in range(40)]
    err = refused(capsys, tmp_path, archive(tmp_path / "bomb.tar.gz", members), "--max-size", "4M")
    assert "unpacks to more than 4 MiB" in err


def test_default_limit_is_a_ratio_of_the_archive(tmp_path, capsys, monkeypatch, exported):
    run, _ = exported
    (run.path / "zeros.bin").write_bytes(b"\0" * 8 * 2**20)  # compresses about 1000x
    path = tmp_path / "big.tar.gz"
    run_archive.pack(run, path)
    monkeypatch.setattr(run_archive, "MIN_LIMIT", 2**20)
    assert "the limit" in refused(capsys, tmp_path, path)
    code, _, _ = cli(capsys, "import", str(path), "--runs-dir", str(tmp_path / "dest"), "--max-size", "20M")
    assert code == 0


def test_duplicate_member_is_refused(tmp_path, capsys):
    path = archive(tmp_path / "dup.tar.gz", [("run-1/run.json", b'{"status": "finished"}'),
                                             ("run-1/config.toml", b""), ("run-1/run.json", b"[]")])
    assert "'run-1/run.json' appears twice" in refused(capsys, tmp_path, path)


def test_export_cut_short_is_refused_without_traceback(exported, tmp_path, capsys):
    _, out = exported
    data = out.read_bytes()
    for cut in (len(data) // 3, len(data) - 8, len(data) - 1):  # inside a member, the gzip trailer
        path = tmp_path / f"cut{cut}.tar.gz"
        path.write_bytes(data[:cut])
        assert "cut short" in refused(capsys, tmp_path, path)


def test_archive_cut_inside_a_member_header_is_refused(exported, tmp_path, capsys):
    """Cut the tar (not the gzip) inside the second member's header, then compress what is left:
    a well-formed gzip of a tar that just stops. Python's tarfile reads that as the end."""
    _, out = exported
    raw = gzip.decompress(out.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        second = tar.getmembers()[1].offset
    for cut in (second + 100, second + 511, second):
        path = tmp_path / f"header{cut}.tar.gz"
        path.write_bytes(gzip.compress(raw[:cut]))
        assert "cut short" in refused(capsys, tmp_path, path)


@pytest.mark.parametrize("members, message", [
    ([("run-1/run.json", b"[]"), ("run-1/config.toml", b"")], "holds a list"),
    ([("run-1/run.json", b"{}"), ("run-1/config.toml", b"")], "no valid status"),
    ([("run-1/run.json", b'{"status": "finished", "pid": "x"}'), ("run-1/config.toml", b"")],
     "pid should be"),
    ([("run-1/run.json", b'{"status": "finished"}')], "no config.toml"),
    ([("run-1/run.json", b'{"status": "finished"}'), ("run-1/config.toml", b"[x")], "not valid TOML"),
    ([("run-1/run.json", b'{"status": "finished"}'), ("run-1/config.toml", b""),
      ("run-1/metrics.sqlite", b"not a database")], "not an SQLite database"),
    ([], "empty"),
])
def test_incomplete_runs_are_refused(tmp_path, capsys, members, message):
    assert message in refused(capsys, tmp_path, archive(tmp_path / "x.tar.gz", members))


def test_not_an_archive(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert "unreadable" in refused(capsys, tmp_path, tmp_path / "notes.txt")
    assert "is a folder" in refused(capsys, tmp_path, tmp_path)
    assert "cannot read" in refused(capsys, tmp_path, tmp_path / "missing.tar.gz")


def test_abandoned_import_folders_are_cleaned_up(exported, tmp_path, capsys):
    """A `kill -9` mid-import leaves a hidden .import-<pid>-* folder; no reader lists it, and the
    next import removes it once its process is gone."""
    import subprocess
    import sys

    dest = tmp_path / "dest"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (dest / f".import-{dead}-abc/half").mkdir(parents=True)
    assert RunStore(dest).list_runs() == []
    code, _, _ = cli(capsys, "import", str(exported[1]), "--runs-dir", str(dest))
    assert code == 0 and [p.name for p in dest.iterdir()] == [exported[0].id]
