"""The snapshot profiler's heap walk and diff against LuaMemorySnapshotDump's on the same heap, in one run.

    python3 bench/snapshot_bench.py --peer DIR [--image IMAGE] [--records 100000] [--grow 10000] [--repeat 3]

The heap is bench/snapshot_heap.lua's (100,000 records: 50.9 MB, ~500,000 objects); between the two
snapshots `grow` records more are kept (a leak). bench/snapshot_walk.lua builds it inside the image
(network off) and takes the two snapshots with ljprof's walker (ljprof/profilers/snapshot/harness.lua),
in one container, or with the peer's DumpMemorySnapshot and then its DumpMemorySnapshotComparedFile, in
another; walk times are taken there (wall and CPU, each with its full GC). ljprof's diff is timed here:
read both files and group (parse.read_snapshot, diff.diff), best of --repeat.

The peer, yaukeywang/LuaMemorySnapshotDump (MemoryReferenceInfo.lua), is not part of ljprof: pass a
checkout of it with --peer or LJPROF_BENCH_LMSD (git clone https://github.com/yaukeywang/LuaMemorySnapshotDump).
A last probe runs the peer on a small heap with a boolean key, a cdata key and a 10,000-node linked list.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ljprof.profilers.snapshot.diff import diff  # noqa: E402
from ljprof.profilers.snapshot.parse import read_snapshot  # noqa: E402

PROBES = {
    "boolean key": "local t = {[true] = 1}; _G.keep = t",
    "cdata key": "local ffi = require('ffi'); local t = {[ffi.new('int', 1)] = 1}; _G.keep = t",
    "10,000-node list": "local l; for i = 1, 10000 do l = {next = l} end; _G.keep = l",
}


def docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"docker {' '.join(args[:6])} ... failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout


def find_image(wanted: str | None) -> str:
    """--image, else the newest ljprof/luajit:ci-git-* (upstream LuaJIT 2.1, as the integration tests build)."""
    if wanted:
        return wanted
    refs = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "ljprof/luajit").split()
    upstream = [r for r in refs if ":ci-git-" in r]
    if not upstream:
        sys.exit("no ljprof/luajit:ci-git-* image: run the snapshot integration test once, or pass --image")
    return upstream[0]


def run_walks(image: str, who: str, out: Path, peer: Path, records: int, grow: int) -> dict[str, list[float]]:
    """walk/diff -> [wall, cpu] seconds, as snapshot_walk.lua prints them."""
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o777)
    text = docker("run", "--rm", "--network", "none", "-v", f"{ROOT / 'bench'}:/b:ro",
                  "-v", f"{ROOT / 'ljprof' / 'profilers'}:/ljprof/profilers:ro", "-v", f"{peer}:/peer:ro",
                  "-v", f"{out}:/o", "-e", "LUA_PATH=/peer/?.lua;;", image,
                  "luajit", "/b/snapshot_walk.lua", who, str(records), str(grow), "/o")
    times: dict[str, list[float]] = {}
    for line in text.splitlines():
        what, wall, cpu = line.split()
        times.setdefault(what, []).extend([float(wall), float(cpu)])
    return times


def probe_peer(image: str, peer: Path) -> list[str]:
    """What the peer does on heaps that ljprof's walker handles (test_snapshot's edge target)."""
    out = []
    for name, code in PROBES.items():
        lua = (f"{code}; local mri = require('MemoryReferenceInfo'); "
               "mri.m_cConfig.m_bAllMemoryRefFileAddTime = false; "
               "mri.m_cMethods.DumpMemorySnapshot('/tmp/', 'probe', -1); print('ok')")
        proc = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{peer}:/peer:ro",
                               "-e", "LUA_PATH=/peer/?.lua;;", image, "luajit", "-e", lua],
                              capture_output=True, text=True, check=False)
        said = (proc.stderr.strip().splitlines() or ["(no message)"])[0][:150]
        out.append(f"{name}: " + ("ok" if proc.returncode == 0 and "ok" in proc.stdout else
                                  f"fails (exit {proc.returncode}): {said}"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", default=os.environ.get("LJPROF_BENCH_LMSD"),
                        help="a checkout of LuaMemorySnapshotDump (MemoryReferenceInfo.lua)")
    parser.add_argument("--image", default=os.environ.get("LJPROF_BENCH_IMAGE"))
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--grow", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.peer or not (Path(args.peer) / "MemoryReferenceInfo.lua").is_file():
        sys.exit("pass --peer DIR (or LJPROF_BENCH_LMSD): a checkout of LuaMemorySnapshotDump")
    peer = Path(args.peer).resolve()
    image = find_image(args.image)
    with tempfile.TemporaryDirectory(prefix="ljprof-snapbench-") as tmp:
        work = Path(tmp)
        print(f"image {image}; heap: {args.records:,} records, then {args.grow:,} more kept", flush=True)
        ours = run_walks(image, "ljprof", work / "ljprof", peer, args.records, args.grow)
        files = [work / "ljprof" / f"snapshot-0{n}.txt" for n in (1, 2)]
        best = best_cpu = float("inf")
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            d = diff(read_snapshot(files[0]), read_snapshot(files[1]))
            best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
        later = d.later
        top = d.groups[0]
        theirs = run_walks(image, "peer", work / "peer", peer, args.records, args.grow)
        dumps = sorted((work / "peer").glob("LuaMemRefInfo-All-*.txt"))
        peer_files = [f for f in dumps if "Compared" not in f.name]
        compared = [f for f in dumps if "Compared" in f.name]
        print(f"ljprof: {later.objects:,} objects in the later snapshot; {d.new_objects:,} new, first group "
              f"{top.path} x {top.count:,}")
        print(f"peer: {sum(1 for _ in compared[0].open()) if compared else 0:,} lines in its comparison file")
        print()
        print(f"{'':28}{'ljprof':>18}{'LuaMemorySnapshotDump':>26}{'ratio (wall, cpu)':>20}")
        for i, what in enumerate(("walk 1 (wall, cpu)", "walk 2 (wall, cpu)")):
            w, c = ours["walk"][2 * i:2 * i + 2]
            pw, pc = theirs["walk"][2 * i:2 * i + 2]
            print(f"{what:28}{w:>10.2f} s{c:>6.2f} s{pw:>18.2f} s{pc:>6.2f} s{pw / w:>12.1f}x{pc / c:>6.1f}x")
        pw, pc = theirs["diff"]
        print(f"{'diff (wall, cpu)':28}{best:>10.2f} s{best_cpu:>6.2f} s{pw:>18.2f} s{pc:>6.2f} s"
              f"{pw / best:>12.1f}x{pc / best_cpu:>6.1f}x")
        sizes = [f.stat().st_size / 1e6 for f in files]
        peer_sizes = [f.stat().st_size / 1e6 for f in peer_files]
        print(f"{'files (MB)':28}{' + '.join(f'{s:.1f}' for s in sizes):>18}"
              f"{' + '.join(f'{s:.1f}' for s in peer_sizes):>26}")
        print("ratio = peer time / ljprof time (wall, and CPU: the machine may be shared); ljprof's diff: read "
              f"both files and group, in Python, best of {args.repeat}")
    print()
    print("the peer on heaps ljprof's walker handles:")
    for line in probe_peer(image, peer):
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
