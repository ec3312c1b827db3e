"""A run's user labels: tags and one note, kept in runs/<id>/labels.json.

run.json belongs to the run's owner (launcher, trainer, script) while it runs, so a `workbench tag`
from another shell never writes it: the user's labels live in their own file, replaced atomically
under an flock on runs/<id>/.labels.lock (hidden: archives leave it out), so two `tag` calls at
once keep both edits. The run's effective tags are the experiment's `[experiment] tags`
(RunInfo.tags) with the user's edits applied: tags added, and experiment tags taken off.

labels.json is untrusted input like every file in a run folder: a file that does not fit the
rules below is ignored (with the reason in RunLabels.problem), never a crash. No torch, no Textual.
"""

from __future__ import annotations

import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.run_lock import lock_within
from workbench.store import write_json_atomic

LABELS_FILE = "labels.json"
LOCK_FILE = ".labels.lock"
TAG_MAX = 40  # characters in one tag
TAGS_MAX = 50  # tags one run may carry
NOTE_MAX = 1000  # characters in a note
FILE_MAX = 64 * 1024  # a labels.json larger than this is not one we wrote
TAG_RULE = f"letters, digits and - _ . : /, starting with a letter or digit, at most {TAG_MAX} characters"
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*")
LOCK_WAIT_S = 10.0


@dataclass
class Labels:
    """What labels.json holds: the user's edits, not the effective tags."""

    added: list[str] = field(default_factory=list)  # tags the user put on
    removed: list[str] = field(default_factory=list)  # experiment tags the user took off
    note: str = ""
    problem: str = ""  # why the file was ignored; "" when it is fine or absent


@dataclass
class RunLabels:
    """What viewers show: the effective tags, the note, and why labels.json was ignored (or "")."""

    tags: list[str]
    note: str
    problem: str = ""


def tag_problem(name: object) -> str | None:
    """Why `name` cannot be a tag, or None if it can. The one rule for tags."""
    if not isinstance(name, str) or not name:
        return "a tag is a non-empty string"
    if len(name) > TAG_MAX or not TAG.fullmatch(name):
        return f"a tag uses {TAG_RULE}"
    return None


def note_problem(text: object) -> str | None:
    """Why `text` cannot be a note, or None: at most NOTE_MAX characters, no control or format
    characters (escape codes, bidi overrides) besides newline and tab."""
    if not isinstance(text, str):
        return "a note is a string"
    if len(text) > NOTE_MAX:
        return f"a note has at most {NOTE_MAX} characters (this one has {len(text)})"
    odd = next((ch for ch in text if ch not in "\n\t" and unicodedata.category(ch)[0] == "C"), None)
    if odd is not None:
        return f"a note may not hold control characters ({odd!r})"
    return None


def clean_experiment_tag(text: object) -> str | None:
    """An experiment's tag as a valid tag name: config and scripts accept any string, so
    'my baseline' shows as 'my-baseline' (and is taken off under that name); None if nothing is left."""
    if not isinstance(text, str):
        return None
    name = re.sub(r"[^A-Za-z0-9_.:/-]+", "-", text.strip()).lstrip("-_.:/")[:TAG_MAX].rstrip("-")
    return name if tag_problem(name) is None else None


# ---------------------------------------------------------------- reading


def read(folder: Path) -> Labels:
    """runs/<id>/labels.json, checked; a missing file is no labels, a bad one is ignored with why."""
    try:  # non-blocking: a named pipe planted here must not hang a listing
        fd = os.open(Path(folder) / LABELS_FILE, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return Labels()
    except OSError as e:
        return Labels(problem=f"{LABELS_FILE} cannot be read ({e.strerror or e})")
    try:
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return Labels(problem=f"{LABELS_FILE} is not a regular file")
            data = fh.read(FILE_MAX + 1)
    except OSError as e:
        return Labels(problem=f"{LABELS_FILE} cannot be read ({e.strerror or e})")
    if len(data) > FILE_MAX:
        return Labels(problem=f"{LABELS_FILE} is larger than {FILE_MAX // 1024} KiB")
    try:
        d = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return Labels(problem=f"{LABELS_FILE} is not valid JSON ({str(e)[:80]})")
    return parse(d)


def parse(d: object) -> Labels:
    """labels.json's content, checked field by field."""
    if not isinstance(d, dict):
        return Labels(problem=f"{LABELS_FILE} holds a {type(d).__name__}, not an object")
    lists = {}
    for name in ("added", "removed"):
        tags = d.get(name, [])
        if not isinstance(tags, list) or len(tags) > TAGS_MAX:
            return Labels(problem=f"{LABELS_FILE}: {name} should be a list of at most {TAGS_MAX} tags")
        bad = next((t for t in tags if tag_problem(t)), None)
        if bad is not None:
            return Labels(problem=f"{LABELS_FILE}: {name} holds {json.dumps(bad)[:50]}, not a valid tag")
        lists[name] = list(dict.fromkeys(tags))
    note = d.get("note", "")
    problem = note_problem(note)
    if problem:
        return Labels(problem=f"{LABELS_FILE}: note: {problem}")
    return Labels(added=lists["added"], removed=lists["removed"], note=note)


def effective_tags(experiment_tags: object, labels: Labels) -> list[str]:
    """The experiment's tags without those taken off, then the ones added; no repeats."""
    base = experiment_tags if isinstance(experiment_tags, list) else []
    own = [t for t in (clean_experiment_tag(x) for x in base[:TAGS_MAX]) if t and t not in labels.removed]
    return list(dict.fromkeys([*own, *labels.added]))


def for_run(folder: Path, experiment_tags: object) -> RunLabels:
    """The one reader the viewers (ls, show, the TUI) use."""
    labels = read(folder)
    return RunLabels(effective_tags(experiment_tags, labels), labels.note, labels.problem)


# ---------------------------------------------------------------- editing


def parse_edits(words: list[str]) -> list[tuple[str, bool]]:
    """'+name' adds, '-name' takes off, a bare name adds: [(name, add?)], each name checked."""
    edits = []
    for w in words:
        name = w[1:] if w.startswith(("+", "-")) else w
        problem = tag_problem(name)
        if problem:
            raise WorkbenchError(f"{w[:60]!r}: {problem} (+NAME adds a tag, -NAME takes it off)")
        edits.append((name, not w.startswith("-")))
    return edits


def apply_edits(labels: Labels, experiment_tags: object, edits: list[tuple[str, bool]]) -> Labels:
    """The labels after the edits, in order. Taking off an experiment tag records it in `removed`;
    taking off a tag the run does not have changes nothing."""
    own = effective_tags(experiment_tags, Labels())
    added, removed = list(labels.added), list(labels.removed)
    for name, add in edits:
        if add:
            if name in removed:
                removed.remove(name)
            if name not in own and name not in added:
                added.append(name)
        else:
            if name in added:
                added.remove(name)
            if name in own and name not in removed:
                removed.append(name)
    if len(added) > TAGS_MAX:
        raise WorkbenchError(f"a run carries at most {TAGS_MAX} tags of its own")
    return Labels(added=added, removed=removed, note=labels.note)


def edit_tags(folder: Path, experiment_tags: object, edits: list[tuple[str, bool]]) -> RunLabels:
    """Apply tag edits to a run's labels.json under its lock; the run's labels after them."""
    with _locked(folder):
        labels = apply_edits(_current(folder), experiment_tags, edits)
        _write(folder, labels)
    return RunLabels(effective_tags(experiment_tags, labels), labels.note)


def set_note(folder: Path, text: str) -> None:
    """Replace the run's note ("" clears it); WorkbenchError if the text breaks the note rule."""
    problem = note_problem(text)
    if problem:
        raise WorkbenchError(f"note not saved: {problem}")
    with _locked(folder):
        labels = _current(folder)
        labels.note = text
        _write(folder, labels)


def _current(folder: Path) -> Labels:
    """The labels to edit. A damaged file is not written over: someone may want to look at it."""
    labels = read(folder)
    if labels.problem:
        raise WorkbenchError(f"{Path(folder) / LABELS_FILE}: {labels.problem.removeprefix(LABELS_FILE + ': ')}; "
                             f"fix it or delete it to start the run's tags and note afresh")
    return labels


def _write(folder: Path, labels: Labels) -> None:
    write_json_atomic(Path(folder) / LABELS_FILE, {"schema_version": 1, "added": labels.added,
                                                   "removed": labels.removed, "note": labels.note})


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive flock on the run's .labels.lock for one read-modify-write; closing lets go."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WorkbenchError(f"{folder}: no such run folder")
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise WorkbenchError(f"cannot write labels in {folder}: {e.strerror or e}") from None
    try:
        if not lock_within(fd, LOCK_WAIT_S):
            raise WorkbenchError(f"{folder / LOCK_FILE} stayed locked for {LOCK_WAIT_S:g} s; "
                                 "is another `workbench tag` or `note` stuck?")
        yield
    finally:
        os.close(fd)
