"""GC and metrics sampling: `collectgarbage("count")` and `misc.getmetrics()` as CSV.

Both are read by a background thread of the ljprof_sampler C module in the
image (ljprof/harness/ljprof_sampler.c), so the series keeps its interval
while the target runs compiled traces or blocks in C (sleep, select), where
no Lua hook would ever run. The thread only reads counters (g->gc.total, and
luaM_metrics' fields), so it never touches the Lua stack.

Reading a sampler's CSV is shared here (`read_samples`): strict about the
header, lenient about the tail. Each line is written with one fprintf and a
fflush, so a process killed while writing leaves at most one partial last
line; that line is dropped and the state says "cut".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ljprof.profilers.base import Option
from ljprof.reporting.model import RunDir, Section

INTERVAL = Option("duration", 0.1, "time between two samples", minimum=0.001)


@dataclass(frozen=True)
class Samples:
    """A sampler's CSV as read: its columns, every complete row, and how the file ended.

    state is "complete" (at least one sample), "cut" (a partial or unreadable
    line ended the reading; rows are those before it), "empty" (a header and
    no sample, or nothing at all) or "absent" (no file, or not a file we know);
    why says what happened when the state is not "complete".
    """

    name: str  # the file's name in raw/, for messages
    state: str
    why: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[float | None, ...], ...] = ()

    def has(self, column: str) -> bool:
        return column in self.columns

    def column(self, name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(t, values) of one column, leaving out the samples where it has no value."""
        if name not in self.columns:
            return (), ()
        i = self.columns.index(name)
        t: list[float] = []
        v: list[float] = []
        for row in self.rows:
            value = row[i]
            if value is not None:
                t.append(float(row[0] or 0.0))
                v.append(value)
        return tuple(t), tuple(v)


def _number(text: str) -> float | None:
    """A CSV field as a finite float; None when it is empty or not a number."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_samples(path: Path, required: Sequence[str]) -> Samples:
    """Read raw/<name>.csv: a header starting with `t` that has every `required` column, then rows.

    Never raises for what a file holds: a bad header makes the state "absent",
    a bad or partial line ends the reading with state "cut".
    """
    name = f"raw/{path.name}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Samples(name, "absent", f"no {name} was written")
    except OSError as exc:
        return Samples(name, "absent", f"{name} cannot be read: {exc.strerror or exc}")
    text = data.decode("utf-8", errors="replace")
    if not text:
        return Samples(name, "empty", f"{name} is empty (not even its header)")
    lines = text.split("\n")  # the last element is "" when the file ends with a newline
    partial = lines.pop()
    if not lines:
        return Samples(name, "empty", f"{name} was cut within its header")
    columns = tuple(c.strip() for c in lines[0].split(","))
    missing = [c for c in ("t", *required) if c not in columns]
    if columns[0] != "t" or missing:
        expected = ",".join(("t", *required))
        return Samples(name, "absent", f"{name} has an unexpected header {lines[0][:80]!r} (expected {expected},...)")
    rows: list[tuple[float | None, ...]] = []
    why = ""
    last_t = -math.inf
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        values = tuple(_number(f) for f in fields)
        t = values[0] if values else None
        if len(fields) != len(columns) or t is None or t < last_t or any(
                values[columns.index(c)] is None for c in required):
            why = (f"{name}: line {number} is not a sample ({line[:60]!r}); "
                   f"the {len(rows)} samples before it are read")
            break
        last_t = t
        rows.append(values)
    if not why and partial:
        why = (f"{name} ends within a line (the process was killed while writing?); "
               f"its {len(rows)} complete samples are read")
    if why:
        return Samples(name, "cut", why, columns, tuple(rows))
    if not rows:
        return Samples(name, "empty", f"{name} has its header and no sample")
    return Samples(name, "complete", "", columns, tuple(rows))


def no_data(name: str, samples: Samples, run: RunDir) -> Section:
    """The section of a sampler whose file gave no sample: why, with the harness's word if it has one."""
    why = samples.why
    errors = [str(e.get("detail", "")) for e in run.events() if e.get("event") == "error"
              and "sampler" in str(e.get("detail", ""))]
    if samples.state == "absent" and errors:
        why = f"{why}: {errors[0]}"
    return Section(name, samples.state, why=why, headline=f"{name}: no data ({why})",
                   summary={"samples": len(samples.rows)})


def teardown_sample(run: RunDir) -> bool:
    """Whether the series' last sample was taken after the target ended.

    The harness stops the sampler when the target has ended (returned, raised,
    called os.exit, or was interrupted), and `stop()` takes one last sample
    then: the target's locals are garbage by that time, so it often shows the
    heap after a collection of everything. When the process was killed, the
    harness logs no "stop sampler" and every sample is the target's.
    """
    return any(e.get("event") == "stop" and e.get("detail") == "sampler" for e in run.events())


class CsvSampler:
    """A series the sampler thread writes as raw/<name>.csv; subclasses say what it samples and report it."""

    name = ""
    file = ""
    what = ""
    options: Mapping[str, Option] = {"interval": INTERVAL}

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        return ""

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"path": self.file, "interval": float(options["interval"])}

    def outputs(self) -> dict[str, str]:
        return {self.file: f"{self.what} samples"}

    def assess(self, raw: Path) -> dict[str, Any]:
        path = raw / self.file
        if not path.is_file():
            return {"present": False, "samples": 0}
        samples = read_samples(path, ())
        facts: dict[str, Any] = {"present": True, "samples": len(samples.rows),
                                 "last_t": samples.rows[-1][0] if samples.rows else 0.0}
        if samples.state == "cut":
            facts["why"] = samples.why
        return facts
