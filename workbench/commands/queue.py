"""`workbench queue …`: runs that wait for a free GPU (or CPU slot), started by the scheduler."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli import add_overrides, add_runs_dir
from workbench.errors import WorkbenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "queue", help="queue runs for free GPUs; list, remove, pause, resume the queue",
        description="Queued runs start, in order, when the GPUs they ask for (system.gpus) are free, "
                    "or, on a machine without GPUs, when one of the scheduler's CPU slots is. With no "
                    "subcommand: list the queue. Entries keep the config as it was when queued.")
    add_runs_dir(p)
    p.set_defaults(func=show)
    qs = p.add_subparsers(dest="queue_command", metavar="SUBCOMMAND")

    a = qs.add_parser("add", help="queue an experiment (and start the scheduler if none runs)",
                      description="Resolve and check the experiment now, then queue it. The config is "
                                  "frozen into the entry: editing the file afterwards changes nothing.")
    a.add_argument("experiment", help="experiment TOML file")
    add_overrides(a)
    a.add_argument("--repeat", type=int, default=1, metavar="N", help="queue N copies (default 1)")
    a.add_argument("--name", default="", help="experiment name for the run ids (default: the file name)")
    a.add_argument("--no-start", action="store_true", help="only queue; do not start the scheduler")
    add_runs_dir(a)
    a.set_defaults(func=add)

    r = qs.add_parser("rm", help="take waiting entries off the queue")
    r.add_argument("ids", nargs="+", type=int, metavar="ID", help="entry ids, as `workbench queue` shows")
    add_runs_dir(r)
    r.set_defaults(func=rm)

    m = qs.add_parser("move", help="move a waiting entry up or down the queue")
    m.add_argument("id", type=int, metavar="ID")
    m.add_argument("offset", type=int, help="places to move: -1 earlier, 2 two later, …")
    add_runs_dir(m)
    m.set_defaults(func=move)

    for name, text in (("pause", "start no more entries (running ones go on)"),
                       ("resume", "start entries again (and the scheduler, if none runs)")):
        s = qs.add_parser(name, help=text)
        add_runs_dir(s)
        s.set_defaults(func=pause if name == "pause" else resume)

    st = qs.add_parser("start", help="start the scheduler for this run store (if none runs)",
                       description="Start the detached scheduler unless one already serves this run "
                                   "store. It exits by itself when the queue is empty.")
    st.add_argument("--slots", type=int, metavar="N", help="runs at once on the CPU (default 1)")
    st.add_argument("--poll", type=float, help=argparse.SUPPRESS)
    st.add_argument("--foreground", action="store_true", help=argparse.SUPPRESS)
    add_runs_dir(st)
    st.set_defaults(func=start)


def _store(args):
    from workbench.store import RunStore

    return RunStore(args.runs_dir)


def add(args: argparse.Namespace) -> int:
    from workbench.config import load_config, read_toml
    from workbench.config_checks import check_data_files
    from workbench.queue import Queue
    from workbench.scheduler import ensure_scheduler

    if args.repeat < 1:
        raise WorkbenchError(f"--repeat {args.repeat}: give 1 or more")
    cfg = load_config(args.experiment, args.overrides)
    if "sweep" in read_toml(Path(args.experiment)):
        raise WorkbenchError(f"{args.experiment} has a [sweep] table: start the sweep with "
                             f"`workbench sweep {args.experiment}` (it queues its trials)")
    check_data_files(cfg, args.experiment)
    store = _store(args)
    queue = Queue(store)
    for _ in range(args.repeat):
        e = queue.add(cfg, args.experiment, args.overrides, name=args.name)
        print(f"queued {e.id}: {e.experiment} {' '.join(args.overrides)}".rstrip())
    if not args.no_start:
        _say_scheduler(*ensure_scheduler(store))
    return 0


def _say_scheduler(pid: int, started: bool) -> None:
    print(f"scheduler {'started' if started else 'running'} (pid {pid})")


def show(args: argparse.Namespace) -> int:
    from workbench.queue import Queue
    from workbench.scheduler import scheduler_pid

    store = _store(args)
    queue = Queue(store)
    pid = scheduler_pid(store)
    paused, reason = queue.paused()
    print(f"scheduler: {'pid ' + str(pid) if pid else 'not running'}"
          + (f" · PAUSED: {reason or 'by the user'} (`workbench queue resume`)" if paused else ""))
    entries = queue.entries()
    if not entries:
        print("queue empty")
        return 0
    print(f"{'#':>3} {'id':>4}  {'experiment':<20} {'gpus':>4}  {'state':<34} overrides")
    n = 0
    for e in entries:
        if e.state == "waiting":
            n += 1
            where = "waiting"
        else:
            held = store.run(e.run_id).raw_info().gpus
            where = f"running {e.run_id} on " + (",".join(f"GPU {i}" for i in held) or "cpu")
        label = e.experiment + (f" t{e.trial}" if e.trial >= 0 else "")
        print(f"{n if e.state == 'waiting' else '':>3} {e.id:>4}  {label:<20} {e.gpus:>4}  {where:<34} "
              f"{' '.join(e.overrides)}")
    return 0


def rm(args: argparse.Namespace) -> int:
    from workbench.queue import Queue

    queue = Queue(_store(args))
    for entry_id in args.ids:
        e = queue.remove(entry_id)
        print(f"removed {e.id}: {e.experiment}")
    return 0


def move(args: argparse.Namespace) -> int:
    from workbench.queue import Queue

    Queue(_store(args)).move(args.id, args.offset)
    return show(args)


def pause(args: argparse.Namespace) -> int:
    from workbench.queue import Queue

    Queue(_store(args)).set_paused(True, "paused by the user")
    print("queue paused: no new entries start; running ones go on")
    return 0


def resume(args: argparse.Namespace) -> int:
    from workbench.queue import Queue
    from workbench.scheduler import ensure_scheduler

    store = _store(args)
    Queue(store).set_paused(False)
    print("queue resumed")
    _say_scheduler(*ensure_scheduler(store))
    return 0


def start(args: argparse.Namespace) -> int:
    from workbench.scheduler import ensure_scheduler, serve

    if args.slots is not None and args.slots < 1:
        raise WorkbenchError(f"--slots {args.slots}: give 1 or more")
    store = _store(args)
    if args.foreground:
        return serve(store)
    _say_scheduler(*ensure_scheduler(store, slots=args.slots, poll=args.poll))
    return 0
