"""Scalars from a training script's printed lines (`workbench run -- CMD`, `--test-capture`).

What is read, line by line (a progress bar's \\r redraws count as lines):
- your regular expressions, when given: named groups are values, a group named `step`
  is the step (the other readers still run on lines they do not match);
- Python dict lines, as Hugging Face's Trainer prints them:
  `{'loss': 2.1, 'learning_rate': 3e-4, 'epoch': 0.5}`;
- lines that carry a step, `step N`, `iter N` or `epoch N` (also `step N/M`), and on them
  every `name: number`, `name=number` and `name number` pair: nanoGPT's
  `iter 100: loss 2.1234, time 31.2ms, mfu 12.3%` and `step 250: train loss 2.0, val loss 2.1`;
- a tqdm bar's `| n/total [` as the step where nothing else gives it (within
  `Epoch E:` on a Lightning bar: E * total + n), and the bar's `key=value` postfix.

Names go through keys.store_key (loss -> train/loss, val loss -> eval/val_loss,
mfu 12.3% -> perf/mfu 0.123, time 31.2ms -> perf/step_ms). Dict lines and bar lines
without a step of their own take the last step seen.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

from workbench.errors import WorkbenchError
from workbench.keys import STEP_MS, normalize, store_key

NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf"
STEP = re.compile(r"(?<![\w/.])(step|iter|iteration|global_step|epoch)\s*[:=#]?\s*(\d+)(?:\s*/\s*(\d+))?",
                  re.IGNORECASE)
BAR = re.compile(r"\|\s*(\d+)/(\d+)\s*\[")
# a name of one or two words, an optional ':' or '=', a number and an optional unit
PAIR = re.compile(r"(?<![\w/.-])([A-Za-z_][\w/.-]*(?: [A-Za-z_][\w/.-]*)?)\s*[:=]?\s*(" + NUMBER
                  + r")(%|ms|s)?(?![\w.])")
IGNORED = {"v_num", "it/s", "s/it"}  # Lightning's version number, tqdm's rates


@dataclass
class Point:
    step: int
    values: dict[str, float]


@dataclass
class Capture:
    """Feed it lines; it returns the points they hold and remembers the last step."""

    patterns: list[re.Pattern] = field(default_factory=list)
    step: int = 0
    max_steps: int | None = None
    _bar_total: float | None = None

    @classmethod
    def with_regexes(cls, regexes: list[str], where: str = "--capture") -> Capture:
        return cls(patterns=[compile_regex(r, where) for r in regexes])

    def feed(self, text: str) -> list[Point]:
        points = []
        for line in text.replace("\r", "\n").split("\n"):
            point = self.line(line)
            if point is not None:
                points.append(point)
        return points

    def line(self, line: str) -> Point | None:
        line = line.strip()
        if not line:
            return None
        for pattern in self.patterns:
            m = pattern.search(line)
            if m:
                return self._from_match(m)
        if line.startswith("{") and line.endswith("}"):
            return self._from_dict(line)
        return self._from_pairs(line)

    # ------------------------------------------------------------ readers

    def _from_match(self, m: re.Match) -> Point | None:
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        if "step" in groups:
            step = _float(groups.pop("step"))
            if step is not None and math.isfinite(step):
                self.step = int(step)
        values = {}
        for name, text in groups.items():
            v = _float(text)
            if v is not None:
                values[store_key(name)] = v
        return Point(self.step, values) if values else None

    def _from_dict(self, line: str) -> Point | None:
        try:
            d = ast.literal_eval(line)  # literals only: never runs code
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        if not isinstance(d, dict):
            return None
        for k in ("step", "global_step"):
            if isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool):
                self.step = int(d.pop(k))
        values = {store_key(str(k)): float(v) for k, v in d.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return Point(self.step, values) if values else None

    def _from_pairs(self, line: str) -> Point | None:
        steps = list(STEP.finditer(line))
        # "epoch 2 step 300": the step counts, the epoch is a value
        m = next((x for x in steps if x.group(1).lower() != "epoch"), steps[0] if steps else None)
        bar = BAR.search(line)
        if m is None and (bar is None or not self._bar_counts(int(bar.group(2)))):
            return None
        if m is not None:
            self.step = int(m.group(2))
            if m.group(3):
                self.max_steps = int(m.group(3))
            if bar is not None and m.group(1).lower() == "epoch":  # Lightning: Epoch E: ... | n/total [
                self.step = int(m.group(2)) * int(bar.group(2)) + int(bar.group(1))
                self._bar_total = math.inf  # from now on a bare bar is a validation bar
        else:
            self.step, self.max_steps = int(bar.group(1)), int(bar.group(2))
            self._bar_total = self.max_steps
        # on a bar only its postfix holds values; elsewhere all but the step itself
        rest = line[bar.end():] if bar is not None else line[:m.start()] + " , " + line[m.end():]
        values = {}
        for pm in PAIR.finditer(rest):
            key, value = name_value(pm.group(1), pm.group(2), pm.group(3))
            if key is not None:
                values[key] = value
        return Point(self.step, values) if values else None

    def _bar_counts(self, total: int) -> bool:
        """A bare tqdm bar gives the step when it is the longest seen (the training bar, not
        an evaluation's)."""
        return self._bar_total is None or total >= self._bar_total


def name_value(name: str, number: str, unit: str | None) -> tuple[str | None, float]:
    """('mfu', '12.3', '%') -> ('perf/mfu', 0.123); ('time', '31.2', 'ms') -> ('perf/step_ms', 31.2)."""
    value = _float(number)
    plain = normalize(name)
    if value is None or plain in IGNORED:
        return None, 0.0
    if unit == "%":
        value /= 100.0
    if plain in ("time", "dt", "step_time", "iter_time") and unit in ("ms", "s"):
        return STEP_MS, value * (1000.0 if unit == "s" else 1.0)
    return store_key(plain), value


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def compile_regex(text: str, where: str) -> re.Pattern:
    try:
        pattern = re.compile(text)
    except re.error as e:
        raise WorkbenchError(f"{where}: {text!r} is not a valid regular expression ({e})") from None
    if not pattern.groupindex:
        raise WorkbenchError(f"{where}: {text!r} has no named groups; name what it reads, like "
                             r"'step (?P<step>\d+) loss (?P<loss>[\d.]+)'")
    return pattern
