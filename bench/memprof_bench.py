"""ljprof's memprof parser against Tarantool's (`luajit -tm`), on the same large files, in one run.

    python bench/memprof_bench.py [--workdir DIR] [--image IMAGE] [--size-mb 100] [--repeat 3]
                                  [--file FILE ...] [--no-workload]

Makes (once; --regenerate to redo) with the real fork in Docker, network off:
  events.bin      ~100 MB: several Lua/trace allocation sites, reallocs, frees
  events-cut.bin  the first 60% of events.bin, cut inside an event (as SIGKILL leaves a file)
  cevents.bin     ~100 MB with C-function events too (lua-cjson), each after the fork's
                  re-dump of the whole C symbol table
and copies the peer (luajit and its tools/ Lua modules) out of the image to run it here.
--file adds memprof files recorded elsewhere (e.g. 1,000 lua-cjson calls on the pristine fork,
745 MB, nearly all of it the fork's C symbol table written again and again); --no-workload
measures only those.
Then runs both parsers on each file, each run in its own child process, and prints wall time,
throughput (MB/s of file) and peak RSS (getrusage(RUSAGE_CHILDREN) in a small launcher that runs
only that child). Both write their full text report (to a file under the workdir); the reports
are compared line by line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = Path(__file__).resolve().parent / "memprof_workload.lua"
PEER_SHARE = "/usr/share/luajit-2.1.0-beta3"
OURS = ("import sys; from ljprof.commands import memprof_file; "
        "sys.exit(memprof_file(sys.argv[1], sys.stdout))")


@dataclass
class Run:
    wall: float  # seconds, best of the repeats
    rss: int  # peak resident set size in bytes, highest of the repeats
    exit_code: int
    stderr: str
    output: Path


def docker(*args: str, capture: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=capture, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"docker {' '.join(args)} failed: {proc.stderr.strip() if capture else proc.returncode}")
    return proc.stdout if capture else ""


def find_image(wanted: str | None) -> str:
    if wanted:
        return wanted
    for ref in docker("images", "--format", "{{.Repository}}:{{.Tag}}", "ljprof/luajit").split():
        probe = subprocess.run(["docker", "run", "--rm", "--network", "none", ref, "luajit", "-e",
                                "assert(misc and misc.memprof)"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ref
    sys.exit("no ljprof/luajit image with memprof: build one (invoke build) or pass --image")


def record(image: str, workdir: Path, name: str, size: int, c_every: int) -> Path:
    out = workdir / name
    shutil.copy(WORKLOAD, workdir / WORKLOAD.name)
    print(f"recording {name} (~{size / 1e6:.0f} MB) in {image} ...", flush=True)
    docker("run", "--rm", "--network", "none", "-v", f"{workdir}:/w", "-w", "/w", image,
           "luajit", WORKLOAD.name, name, str(size), str(c_every))
    return out


def cut_copy(src: Path, dst: Path, fraction: float = 0.6) -> None:
    # Any offset this far into a stream of small events falls inside one (or between two):
    # either way the end marker is missing, as in a file left by SIGKILL.
    with src.open("rb") as f:
        dst.write_bytes(f.read(int(src.stat().st_size * fraction) + 3))


def fetch_peer(image: str, workdir: Path) -> Path:
    peer = workdir / "peer"
    if (peer / "luajit").exists():
        return peer
    peer.mkdir(parents=True, exist_ok=True)
    cid = docker("create", image, "true").strip()
    try:
        docker("cp", f"{cid}:/usr/bin/luajit", str(peer / "luajit"))
        docker("cp", f"{cid}:{PEER_SHARE}", str(peer / "share"))
    finally:
        docker("rm", cid)
    return peer


# Runs one command and reports its wall time and peak RSS. It runs in its own small interpreter
# because a child's ru_maxrss starts at the RSS of the process that spawned it (Linux keeps the
# high-water mark across fork/vfork and exec): spawned from this script after it parsed a
# 100 MB profile, every child would seem to need that much.
LAUNCHER = """
import json, resource, subprocess, sys, time
cmd = json.loads(sys.argv[1])
with open(sys.argv[2], "wb") as out:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "rss": usage.ru_maxrss * 1024, "exit": proc.returncode,
                  "stderr": proc.stderr.decode(errors="replace")[-4000:]}))
"""


def measure(cmd: list[str], out: Path, env: dict[str, str], repeat: int) -> Run:
    walls, rss, code, err = [], 0, 0, ""
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, json.dumps(cmd), str(out)], env=env,
                              capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout)
        walls.append(result["wall"])
        rss = max(rss, result["rss"])
        code, err = result["exit"], result["stderr"]
    return Run(min(walls), rss, code, err, out)


def same_lines(a: Path, b: Path) -> bool:
    return sorted(a.read_text(errors="replace").split("\n")) == sorted(b.read_text(errors="replace").split("\n"))


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "ljprof-bench")
    parser.add_argument("--image", default=os.environ.get("LJPROF_BENCH_IMAGE"))
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each parser per file (best wall time)")
    parser.add_argument("--regenerate", action="store_true", help="record the profiles again")
    parser.add_argument("--no-c-events", action="store_true", help="skip the file with C-function events")
    parser.add_argument("--python-decoder", action="store_true",
                        help="also time ljprof's pure-Python fallback decoder (once per file) on events.bin and --file")
    parser.add_argument("--file", type=Path, action="append", default=[],
                        help="also measure this memprof file (repeatable)")
    parser.add_argument("--no-workload", action="store_true", help="measure only the --file files")
    args = parser.parse_args()

    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "out").mkdir(exist_ok=True)
    size = args.size_mb * 1_000_000
    image = None

    files = [] if args.no_workload else [("events.bin", 0)] + ([] if args.no_c_events else [("cevents.bin", 5000)])
    for name, c_every in files:
        if args.regenerate or not (workdir / name).exists():
            image = image or find_image(args.image)
            record(image, workdir, name, size, c_every)
    cut = workdir / "events-cut.bin"
    if files and (args.regenerate or not cut.exists()):
        cut_copy(workdir / "events.bin", cut)
    for extra in args.file:
        if not extra.is_file():
            sys.exit(f"{extra}: no such file")
    image = image or find_image(args.image)
    peer = fetch_peer(image, workdir)

    sys.path.insert(0, str(REPO))
    from ljprof.profilers.memprof import available_decoders, parse_file

    print(f"decoders available: {', '.join(available_decoders())}; peer: {image} (luajit -tm), run here")
    peer_env = {**os.environ, "LUA_PATH": f"{peer / 'share'}/?.lua;;"}
    ours_env = {**os.environ, "PYTHONPATH": str(REPO)}
    names = [name for name, _ in files[:1]] + ([cut.name] if files else []) + [name for name, _ in files[1:]]
    paths = [workdir / name for name in names] + [extra.resolve() for extra in args.file]
    rows = []
    for path in paths:
        name = path.name
        profile = parse_file(path)  # for the event counts only; not timed
        theirs = measure([str(peer / "luajit"), "-tm", str(path)], workdir / "out" / f"peer-{name}.txt", peer_env,
                         args.repeat)
        ours = measure([sys.executable, "-c", OURS, str(path)], workdir / "out" / f"ours-{name}.txt", ours_env,
                       args.repeat)
        rows.append((name, path.stat().st_size, profile, theirs, ours, "c"))
        if args.python_decoder and (name == "events.bin" or path in paths[len(names):]):
            slow = measure([sys.executable, "-c", OURS, str(path)], workdir / "out" / f"ours-py-{name}.txt",
                           {**ours_env, "LJPROF_MEMPROF_DECODER": "python"}, 1)
            rows.append((name, path.stat().st_size, profile, theirs, slow, "python"))

    print()
    width = max([16, *(len(row[0]) + 6 for row in rows)])
    head = f"{'file':<{width}}{'size':>10}{'events':>12}  {'peer: wall':>11}{'MB/s':>8}{'peak RSS':>11}  " \
           f"{'ljprof: wall':>13}{'MB/s':>8}{'peak RSS':>11}  {'speed-up':>9}{'memory':>8}"
    print(head)
    print("-" * len(head))
    report = []
    for name, nbytes, profile, theirs, ours, decoder in rows:
        label = name if decoder == "c" else f"{name} (py)"
        peer_ok = theirs.exit_code == 0
        peer_wall = f"{theirs.wall:.2f} s" if peer_ok else f"{theirs.wall:.2f} s*"
        print(f"{label:<{width}}{mb(nbytes):>10}{profile.counts.events / 1e6:>10.2f} M  {peer_wall:>11}"
              f"{nbytes / 1e6 / theirs.wall:>8.0f}{mb(theirs.rss):>11}  {ours.wall:>11.2f} s"
              f"{nbytes / 1e6 / ours.wall:>8.0f}{mb(ours.rss):>11}  "
              f"{theirs.wall / ours.wall:>8.1f}x{ours.rss / theirs.rss:>7.2f}x")
        report.append({"file": name, "decoder": decoder, "bytes": nbytes, "events": profile.counts.events,
                       "symbol_bytes": profile.symbols.bytes,
                       "peer": {"wall": theirs.wall, "rss": theirs.rss, "exit": theirs.exit_code},
                       "ljprof": {"wall": ours.wall, "rss": ours.rss, "exit": ours.exit_code}})
    print()
    print("MB/s = file size / wall; speed-up = peer wall / ljprof wall; memory = ljprof peak RSS / peer peak RSS "
          f"(best wall and highest RSS of {args.repeat} runs each)")
    for name, _nbytes, profile, theirs, ours, decoder in rows:
        if decoder != "c":
            continue
        if theirs.exit_code == 0:
            verdict = "the same lines" if same_lines(theirs.output, ours.output) else "DIFFERENT lines"
            print(f"{name}: both reports complete; ljprof's has {verdict} as the peer's")
        else:
            cut_info = profile.cut
            first = theirs.stderr.strip().splitlines()[:2]
            print(f"{name}: * the peer failed (exit {theirs.exit_code}, {theirs.output.stat().st_size} bytes of "
                  f"output) after {theirs.wall:.2f} s: {' / '.join(line.strip() for line in first)}")
            if cut_info is not None:
                print(f"{name}: ljprof reported {profile.counts.events} events (exit {ours.exit_code}: partial); "
                      f"{cut_info.reason}")
    (workdir / "out" / "bench.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
