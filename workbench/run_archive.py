"""Run archives: `workbench export` packs a run folder, `workbench import` unpacks one.

An archive may come from anyone, so import trusts nothing in it: members are read
one by one from the stream (a gzip bomb is refused after at most the size limit,
or at once when a header declares too much), every path is checked, duplicates,
links and devices are refused, a cut-off archive is found (gzip trailer, the tar
end-of-archive blocks), and the result must be a complete run. It is unpacked into
a hidden temporary folder inside the store and renamed into place only when all of
that holds, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from workbench.config import read_toml
from workbench.errors import WorkbenchError
from workbench.run_info import RunInfo, process_start_time
from workbench.store import Run, RunStore, check_run_id, run_id_problem, write_json_atomic

# Unpacked size allowed by default: the larger of these two. Checkpoints hardly compress, so a
# real run unpacks to about its archive's size; 50x more is a bomb. --max-size replaces the rule.
MIN_LIMIT = 256 * 2**20
MAX_RATIO = 50
MAX_MEMBERS = 10_000  # a run folder holds a handful of files; millions of empty ones fill inodes
TRAILER_WINDOW = 64 * 1024  # tar pads to 10 KiB records: more than this after the end is not ours
REQUIRED = ("run.json", "config.toml")


def parse_size(text: str) -> int:
    """'500M', '2G', '1.5GB', '123' (bytes) -> bytes; WorkbenchError otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", text)
    if not m:
        raise WorkbenchError(f"--max-size {text!r}: give a size like 500M, 20G or a number of bytes")
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def default_limit(archive: Path) -> int:
    return max(MIN_LIMIT, MAX_RATIO * archive.stat().st_size)


# ---------------------------------------------------------------- export


def is_partial(name: str) -> bool:
    """Files a writer has not finished: hidden temp files (.last.pt.tmp123, .run.json.….tmp)."""
    base = PurePosixPath(name).name
    return base.startswith(".") or base.endswith(".tmp")


def pack(run: Run, out: Path, checkpoints: bool = True) -> None:
    """Write run's folder to a .tar.gz at `out`, complete files only, atomically (temp, rename)."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = PurePosixPath(info.name).parts
        if is_partial(info.name) or (not checkpoints and len(parts) > 1 and parts[1] == "checkpoints"):
            return None
        return info

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(run.path, arcname=run.id, filter=keep)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- import


class CountingReader:
    """The decompressed archive, counted, with its last bytes kept to check the tar's end."""

    def __init__(self, raw: BinaryIO, cap: int):
        self.raw, self.cap = raw, cap
        self.pos = 0
        self.tail = b""

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n >= 0 else 1 << 20)
        self.pos += len(data)
        if self.pos > self.cap:
            raise WorkbenchError(f"unpacks to more than {self.cap / 2**20:.0f} MiB")
        self.tail = (self.tail + data)[-TRAILER_WINDOW:]
        return data

    def check_end(self, offset: int) -> None:
        """After the last member: the rest must be the end-of-archive blocks (zeros), read to EOF
        so a cut gzip stream shows (EOFError), and at least the two 512-byte zero blocks."""
        while self.pos - offset <= TRAILER_WINDOW and self.read(1 << 16):
            pass
        if self.pos - offset > TRAILER_WINDOW:
            raise WorkbenchError("unexpected data after the end of the tar archive")
        rest = self.tail[len(self.tail) - (self.pos - offset):] if self.pos > offset else b""
        if len(rest) < 1024 or rest.strip(b"\0"):
            raise WorkbenchError("the archive is cut short (no end-of-archive marker)")


def open_decompressed(path: Path) -> BinaryIO:
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if magic.startswith(b"\xfd7zXZ"):
        return lzma.open(path, "rb")
    return open(path, "rb")


@dataclass
class Unpacked:
    top: str  # the run id the archive names
    files: int
    size: int


def member_path(m: tarfile.TarInfo, top: str | None) -> PurePosixPath | None:
    """The member's checked path (None for the archive's own "./"); WorkbenchError for anything
    that is not a plain file or folder inside one top folder."""
    p = PurePosixPath(m.name)
    if p.is_absolute() or m.name.startswith(("/", "\\")):
        raise WorkbenchError(f"refusing absolute path {m.name!r}")
    if ".." in p.parts:
        raise WorkbenchError(f"refusing path with '..': {m.name!r}")
    if not (m.isfile() or m.isdir()):
        raise WorkbenchError(f"refusing {m.name!r}: links and devices are not allowed")
    if not p.parts and m.isdir():
        return None
    if not p.parts or (top is not None and p.parts[0] != top):
        raise WorkbenchError(f"expected one run folder at the top, found {sorted({top, p.parts[0]})}")
    return p  # one path component each, no '..': safe to create inside the temporary folder


def extract(path: Path, dest: Path, limit: int) -> Unpacked:
    """Unpack the archive at `path` into `dest` (an empty folder), checking as it goes."""
    seen: set[str] = set()
    top, size, raw = None, 0, None
    try:
        raw = open_decompressed(path)
        # headers and padding come on top of the file sizes the limit counts
        reader = CountingReader(raw, limit + (MAX_MEMBERS + 4) * 1024 + TRAILER_WINDOW)
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # a stream: members in order, once
            for m in tar:
                p = member_path(m, top)
                if p is None:
                    continue
                top = p.parts[0]
                name = str(p)
                if name in seen:
                    raise WorkbenchError(f"{name!r} appears twice in the archive")
                seen.add(name)
                if len(seen) > MAX_MEMBERS:
                    raise WorkbenchError(f"more than {MAX_MEMBERS} files; not a run archive")
                size += m.size
                if size > limit:
                    raise WorkbenchError(f"unpacks to more than {limit / 2**20:.0f} MiB (the limit; "
                                         f"--max-size raises it)")
                target = dest / name
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif not is_partial(name):  # a writer's unfinished temp file: leave it out
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with open(target, "xb") as out:
                        shutil.copyfileobj(tar.extractfile(m), out, 1 << 20)
            reader.check_end(tar.offset)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as e:
        what = "cut short" if isinstance(e, EOFError) or "unexpected end" in str(e) else "unreadable"
        raise WorkbenchError(f"the archive is {what} ({e})") from None
    finally:
        if raw is not None:
            raw.close()
    if top is None:
        raise WorkbenchError("the archive is empty")
    return Unpacked(top, len(seen), size)


def check_complete(folder: Path, run_id: str) -> dict:
    """The unpacked folder must be a whole run: run.json an object that reads as a run,
    config.toml TOML, metrics.sqlite (if any) an SQLite file. Returns run.json's content."""
    for name in REQUIRED:
        if not (folder / name).is_file():
            raise WorkbenchError(f"not a workbench run archive: no {name} in {run_id}/")
    text = (folder / "run.json").read_text(encoding="utf-8", errors="replace")
    info = RunInfo.parse(text, run_id)
    if info.status == "damaged":
        raise WorkbenchError(info.reason)
    try:
        read_toml(folder / "config.toml")
    except WorkbenchError as e:  # name the file as it is in the archive, not the temp folder
        raise WorkbenchError(str(e).replace(f"{folder}/", "")) from None
    db = folder / "metrics.sqlite"
    if db.exists():
        with open(db, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\0":
                raise WorkbenchError("metrics.sqlite is not an SQLite database")
    return json.loads(text)


def remove_abandoned(store: RunStore) -> None:
    """Temporary folders of imports whose process is gone (killed mid-import)."""
    for p in store.root.glob(".import-*-*"):
        pid = p.name.split("-")[1]
        if pid.isdigit() and process_start_time(int(pid)) is None:
            shutil.rmtree(p, ignore_errors=True)


def unpack(path: Path, store: RunStore, limit: int | None = None, as_id: str | None = None) -> tuple[Run, Unpacked]:
    """Import the archive at `path` into `store`: all of it, checked, or nothing."""
    if as_id is not None:
        check_run_id(as_id)
    try:
        limit = default_limit(path) if limit is None else limit
    except OSError as e:
        raise WorkbenchError(f"cannot read the archive ({e.strerror})") from None
    store.ensure()
    remove_abandoned(store)
    # hidden, so no reader lists it; named by our pid, so a later import can tell it was abandoned
    tmp = Path(tempfile.mkdtemp(prefix=f".import-{os.getpid()}-", dir=store.root))
    try:
        got = extract(path, tmp, limit)
        run_id = as_id or got.top
        problem = run_id_problem(run_id)
        if problem:
            raise WorkbenchError(f"{run_id[:80]!r} is not a valid run id ({problem}); import it "
                                 f"under another id with --as NEW_ID")
        target = store.root / run_id
        if target.exists():
            raise WorkbenchError(f"{run_id} already exists in {store.root}/; remove it first with "
                                 f"`workbench rm {run_id}`, or import it as another id with --as NEW_ID")
        folder = tmp / got.top
        data = check_complete(folder, run_id)
        data["id"] = run_id
        if data.get("status") == "running":  # exported mid-run: no process here owns it
            data.update(status="crashed", reason="imported while it was still running", pid=None, pgid=None)
        write_json_atomic(folder / "run.json", data)
        os.rename(folder, target)
    except WorkbenchError as e:
        raise WorkbenchError(f"{path}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return store.run(run_id), got
