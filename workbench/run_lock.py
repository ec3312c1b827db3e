"""One trainer per run: an exclusive `fcntl.flock` on runs/<id>/trainer.lock.

The launcher takes the lock before it writes the run, and hands it to the trainer
process it starts (the child inherits the same open file, so the lock is the
child's once the launcher lets go). The OS releases it when the holder dies,
however it dies, so "is the lock held?" is the exact liveness test for a run
whose run.json says running. Readers only probe (a shared lock, let go at once);
they never block a writer and never create the file.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from workbench.errors import WorkbenchError

LOCK_NAME = "trainer.lock"


def lock_within(fd: int, seconds: float, poll: float = 0.02) -> bool:
    """Take an exclusive flock on `fd`, trying for up to `seconds`; False if another holds it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)


class RunLock:
    def __init__(self, folder: Path, run_id: str):
        self.path = Path(folder) / LOCK_NAME
        self.run_id = run_id
        self.fd: int | None = None

    def acquire(self, wait: float = 2.0) -> RunLock:
        """Take the lock; WorkbenchError if another process holds it. `wait` covers a reader's
        probe, which holds a shared lock for a moment."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not lock_within(fd, wait):
            os.close(fd)
            raise WorkbenchError(f"{self.run_id} is already being trained by another process; "
                                 f"stop it first with `workbench stop {self.run_id}`")
        self.fd = fd
        return self

    def adopt(self, fd: int) -> RunLock:
        """Take over the lock a launcher passed down as file descriptor `fd`."""
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            same = False
        if not same:
            raise WorkbenchError(f"--lock-fd {fd} is not {self.path}")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # already ours: this only checks it
        os.set_inheritable(fd, False)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing our copy; a child that inherited it keeps the lock
            self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def is_held(folder: Path) -> bool | None:
    """True if a trainer holds the run's lock, False if not, None if the run has no lock file
    (a run from before the lock, or one recorded by a script through workbench.init)."""
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our shared lock at once
    return False
