"""`workbench tag RUN [RUN…] +NAME -NAME …`: put tags on runs or take them off; no edits prints them."""

from __future__ import annotations

import argparse

from workbench import labels
from workbench.cli import add_runs_dir, add_words
from workbench.errors import WorkbenchError
from workbench.store import Run, RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tag", help="tag runs (+NAME adds, -NAME takes off); no NAME prints their tags",
                       description="Put tags on runs or take them off; `workbench ls --tag NAME` lists the "
                                   "runs with a tag. A run's tags are its experiment's [experiment] tags "
                                   "plus the ones added here, less those taken off (experiment tags "
                                   "too). They are kept in runs/<id>/labels.json, so a running run can "
                                   f"be tagged as well. A tag uses {labels.TAG_RULE}.",
                       epilog="examples: workbench tag bf16-2026 +baseline -wip   |   "
                              "workbench tag run-a run-b +lr-sweep   |   workbench tag bf16-2026")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    add_words(p, "words", "[RUN …] [+NAME | -NAME …]",
              "more runs, then the edits: +NAME adds, -NAME takes off; after the first edit a bare NAME "
              "adds too")
    add_runs_dir(p)
    p.set_defaults(func=run)


def split_words(words: list[str]) -> tuple[list[str], list[str]]:
    """(run refs, edits): the runs end at the first +NAME or -NAME."""
    for i, w in enumerate(words):
        if w.startswith(("+", "-")):
            return words[:i], words[i:]
    return words, []


def run(args: argparse.Namespace) -> int:
    store = RunStore(args.runs_dir)
    refs, edits = split_words([args.run, *args.words])
    runs = [_resolve(store, ref, edits) for ref in refs]
    changes = labels.parse_edits(edits)
    for r in dict.fromkeys(runs, None):  # a run named twice is tagged once
        tags = r.raw_info().tags
        if changes:
            now = labels.edit_tags(r.path, tags, changes)
            print(f"{r.id}: {_fmt(now.tags)}")
        else:
            got = labels.for_run(r.path, tags)
            print(f"{r.id}: {_fmt(got.tags)}" + (f"  ({got.problem}; ignored)" if got.problem else ""))
    return 0


def _resolve(store: RunStore, ref: str, edits: list[str]) -> Run:
    try:
        return store.resolve(ref)
    except WorkbenchError as e:
        if edits or labels.tag_problem(ref):
            raise
        raise WorkbenchError(f"{e}; to add the tag {ref!r}, write +{ref}") from None


def _fmt(tags: list[str]) -> str:
    return " ".join(tags) if tags else "no tags"
