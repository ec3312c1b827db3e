"""Runs out to TensorBoard: `workbench export RUN… --tensorboard DIR`.

Each run becomes DIR/<run-id>/events.out.tfevents.*, written with the `tensorboard`
package's own event-file writer (the optional extra `tensorboard`; no torch, no
TensorFlow): every scalar at its step and wall time under its workbench key
(train/loss, eval/val_loss, perf/tok_per_s, …), and each sample as text under
`samples` (prompt and continuation, in a markdown code block so the lines stay). `tensorboard --logdir DIR` then shows the runs
side by side. Reads the store only.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import WorkbenchError

BATCH = 50_000  # scalar rows read per query


def _writer_parts():
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.plugins.text.summary_v2 import text_pb
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise WorkbenchError("--tensorboard needs the tensorboard package: pip install "
                             "'workbench[tensorboard]'") from None
    return Event, Summary, text_pb, EventFileWriter


def export_run(run, out: Path) -> tuple[Path, int, int]:
    """Write one run's scalars and samples under out/<run-id>/; (folder, scalars, samples)."""
    Event, Summary, text_pb, EventFileWriter = _writer_parts()
    folder = out / run.id
    if folder.exists() and any(folder.glob("events.out.tfevents.*")):
        raise WorkbenchError(f"{folder} already holds TensorBoard events; remove it or export elsewhere, "
                             "so the run's points are not shown twice")
    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder))
    reader = run.reader()
    n_scalars = n_samples = 0
    try:
        cursor = 0
        while True:
            rows, cursor = reader.scalars_since(cursor, limit=BATCH)
            if not rows:
                break
            for r in rows:
                value = Summary.Value(tag=r.key, simple_value=r.value)
                writer.add_event(Event(wall_time=r.time, step=r.step, summary=Summary(value=[value])))
            n_scalars += len(rows)
        since = 0
        while samples := reader.samples(since):
            for s in samples:
                text = f"```\n{s.prompt}{s.text}\n```"  # TensorBoard renders markdown: keep the lines
                writer.add_event(Event(wall_time=s.time, step=s.step, summary=text_pb("samples", text)))
            n_samples += len(samples)
            since = max(s.id for s in samples)
    finally:
        reader.close()
        writer.close()
    return folder, n_scalars, n_samples

