"""One colour per run, kept in every pane and screen of the app.

A run gets the first palette colour no other run has taken yet this session, so runs
compared together never share one (until there are more runs than colours).
"""

from __future__ import annotations

# the same colours, as plotext and as rich name them
PLOTEXT = ["cyan", "orange", "green", "magenta", "yellow", "red", "blue", "white"]
RICH = ["cyan", "dark_orange", "green", "magenta", "yellow", "red", "blue", "white"]
FAINT = "gray"  # raw points under a smoothed line


class RunColors:
    def __init__(self) -> None:
        self._index: dict[str, int] = {}

    def index(self, run_id: str) -> int:
        if run_id not in self._index:
            taken = set(self._index.values())
            free = [i for i in range(len(PLOTEXT)) if i not in taken]
            self._index[run_id] = free[0] if free else len(self._index) % len(PLOTEXT)
        return self._index[run_id]

    def plotext(self, run_id: str) -> str:
        return PLOTEXT[self.index(run_id)]

    def rich(self, run_id: str) -> str:
        return RICH[self.index(run_id)]
