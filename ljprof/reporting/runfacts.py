"""The run's own facts, shaped from manifest.json and raw/stderr.log for index.html and summary.*.

Old manifests lack some keys (ending.ok and ending.message came later):
every fact here has a fallback, so any run directory renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ljprof.reporting.model import RunDir
from ljprof.reporting.units import format_bytes_short, format_seconds

STDERR_TAIL = 20
MAX_LINE = 400  # characters of one stderr line shown
MAX_STDERR_BYTES = 256 * 1024  # read at most the last 256 KB of stderr.log


@dataclass(frozen=True)
class Ending:
    kind: str  # return | exit | error | interrupted | oom | timeout | signal | unknown | ?
    ok: bool | None  # the target ended as the profile meant it to; None when unknown
    exit_code: int | None
    signal: str | None
    stopped_by: str | None
    message: str  # in words: "stopped by SIGINT after the duration (5.02 s)"
    error: str  # the error the target raised (its first line), or ""

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ok": self.ok, "exit_code": self.exit_code, "signal": self.signal,
                "stopped_by": self.stopped_by, "message": self.message}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ending_of(manifest: dict[str, Any]) -> Ending:
    """How the target ended, from manifest["ending"]; `ok` and `message` are derived when absent."""
    e = manifest.get("ending") or {}
    kind = str(e.get("kind", "?"))
    code = _int(e.get("exit_code"))
    stopped_by = e.get("stopped_by")
    harness = e.get("harness") or {}
    error = str(harness.get("message") or "") if kind in ("error", "interrupted") else ""
    sig = e.get("signal")
    sent = e.get("signals_sent") or []
    ok = e.get("ok")
    if not isinstance(ok, bool):
        # before manifests said so: a run is fine when the target returned, exited 0,
        # or ran until the profile's duration stopped it
        ok = (kind == "return" or (kind == "exit" and code == 0)
              or (kind == "interrupted" and stopped_by == "duration")) if kind != "?" else None
    message = e.get("message")
    if not isinstance(message, str) or not message:
        after = f" after the duration ({format_seconds(float(sent[0]['after_s']))})" if (
            stopped_by == "duration" and sent and "after_s" in sent[0]) else ""
        limits = (manifest.get("config") or {}).get("limits") or {}
        memory = f" (memory limit {format_bytes_short(limits['memory'])})" if limits.get("memory") else ""
        timeout = (manifest.get("config") or {}).get("timeout")
        message = {
            "return": "returned",
            "exit": f"called os.exit({code})",
            "error": f"raised an error: {error}" if error else "raised an error",
            "interrupted": "stopped by SIGINT" + (after or (" (cancelled)" if stopped_by == "cancel" else "")),
            "oom": "killed by the OOM killer" + memory,
            "timeout": f"killed at the timeout ({timeout:g} s)" if isinstance(timeout, (int, float)) else
                       "killed at the timeout",
            "signal": f"killed by {sig or 'a signal'}" + (after and f" (stopped{after})"),
            "unknown": "ended without saying how",
        }.get(kind, "no ending recorded")
    return Ending(kind, ok, code, str(sig) if sig else None, str(stopped_by) if stopped_by else None, message, error)


def stderr_lines(run: RunDir) -> list[str]:
    """raw/stderr.log's last lines (at most the last 256 KB of it)."""
    path = run.raw / "stderr.log"
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - MAX_STDERR_BYTES))
            data = f.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(data) == MAX_STDERR_BYTES and lines:
        lines = lines[1:]  # the first may be a part of a line
    return lines


def clip(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …"


def traceback_of(lines: list[str], error: str) -> list[str]:
    """The error the target raised and luajit's traceback after it, as stderr shows them.

    The harness prints `luajit: <message>` then "stack traceback:" and its
    tab-indented frames; the last line that holds the message starts the block.
    """
    if not error:
        return []
    start = next((i for i in range(len(lines) - 1, -1, -1) if error in lines[i]), None)
    if start is None:
        return [error]
    block = [lines[start]]
    for line in lines[start + 1:]:
        if line.startswith(("stack traceback:", "\t", " ")):
            block.append(line)
        else:
            break
    return [clip(line) for line in block]


def limits_text(config: dict[str, Any]) -> str:
    limits = config.get("limits") or {}
    parts = []
    if limits.get("memory"):
        parts.append(f"memory {format_bytes_short(limits['memory'])}")
    if limits.get("cpus"):
        parts.append(f"{limits['cpus']:g} CPU" + ("" if limits["cpus"] == 1 else "s"))
    if limits.get("pids"):
        parts.append(f"{limits['pids']} processes")
    if not parts:
        parts.append("no memory, CPU or process limit")
    for key, what in (("duration", "duration"), ("grace", "grace"), ("timeout", "timeout")):
        if isinstance(config.get(key), (int, float)):
            parts.append(f"{what} {config[key]:g} s")
    return ", ".join(parts)


def service_lines(manifest: dict[str, Any]) -> list[str]:
    """One line per service of the run (manifest["services"]): where it listened, and whether it died."""
    lines = []
    for s in manifest.get("services") or []:
        where = f"{s.get('address')}" + (f" in ${s['env_var']}" if s.get("env_var") else "")
        kind = f"container {s.get('image')}" if s.get("kind") == "container" else "host command"
        ready = f"ready in {format_seconds(float(s['ready_s']))}" if isinstance(s.get("ready_s"), (int, float)) \
            else "never ready"
        line = f"{s.get('name')}: {kind}, {where}, {ready}"
        if s.get("state") == "died":
            after = s.get("died_after_s")
            line += (f"; DIED {format_seconds(float(after))} into the run" if isinstance(after, (int, float))
                     else "; DIED during the run") + f" (exit code {s.get('exit_code')}; see {s.get('log')})"
        else:
            line += f"; stopped after the target (log {s.get('log')})"
        lines.append(line)
    return lines
