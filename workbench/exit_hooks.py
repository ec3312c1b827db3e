"""How a script's run ends by itself: finished, failed or stopped, from the way the script exits.

- a normal exit (or sys.exit(0)): finished; sys.exit(n) with n != 0: failed (`raise
  SystemExit(n)` is not seen: it reads as finished)
- an uncaught exception: failed, with the exception as the reason (sys.excepthook
  runs before atexit, so it sees it first)
- SIGTERM (`workbench stop`, the TUI's x) or SIGHUP (a lost terminal): stopped. The
  handler raises SystemExit(128 + the signal) in the main thread, so the script's finally
  blocks run, and then atexit records the end
- Ctrl-C (KeyboardInterrupt): stopped

A script that set its own SIGTERM handler keeps it; the run then ends by that handler's exit.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading


class _Exit:
    """What the hooks saw, for the one atexit call that ends the run."""

    def __init__(self, recorder):
        self.recorder = recorder
        self.status = ""
        self.reason = ""
        self.code = None  # the argument of the last sys.exit()
        self.previous_hook = sys.excepthook
        self.previous_exit = sys.exit

    def excepthook(self, kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self.status, self.reason = "stopped", "stopped by SIGINT (Ctrl-C)"
        elif not self.status:
            text = str(value).strip().splitlines()[0] if str(value).strip() else ""
            self.status, self.reason = "failed", f"{kind.__name__}: {text}"[:500]
        self.previous_hook(kind, value, tb)

    def exit(self, code=None):
        # Python keeps the code of an exit in flight nowhere atexit can read it
        self.code = code
        self.previous_exit(code)

    def on_sigterm(self, signum, frame) -> None:
        self.status, self.reason = "stopped", f"stopped by {signal.Signals(signum).name}"
        raise SystemExit(128 + signum)

    def at_exit(self) -> None:
        status, reason = self.status, self.reason
        if not status:
            ok = self.code in (0, None)
            status = "finished" if ok else "failed"
            reason = "" if ok else f"exited with {self.code!r}"
        if status != "finished" and self.recorder.status is None:
            self.recorder.event("error" if status == "failed" else "stop", reason)
        self.recorder.finish(status, reason)


_exit: _Exit | None = None


def install(recorder) -> None:
    """Hooks for this recorder; installed once per process, a later init takes them over."""
    global _exit
    if _exit is not None:
        _exit.recorder, _exit.status, _exit.reason, _exit.code = recorder, "", "", None
        return
    _exit = _Exit(recorder)
    sys.excepthook = _exit.excepthook
    sys.exit = _exit.exit
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went away
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _exit.on_sigterm)
    atexit.register(_exit.at_exit)
