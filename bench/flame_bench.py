"""cpu's reports for 1 M samples: decode raw/cpu.txt, aggregate, render the flame page, the folded
stacks and the speedscope JSON; against a peer flame-graph renderer on the same stacks, in one run.

    python3 bench/flame_bench.py [--samples 1000000] [--stacks 20000] [--peer PATH/TO/flamegraph]

The fixture is generated (seeded): a call tree of 3,000 Lua functions over 40 files, stacks 4 to 40
frames deep, leaves in a VM state, sample counts Zipf-like, written as the harness writes
raw/cpu.txt (the counts already summed per stack, as jit.profile's callback sums them in the VM).

Peer: thlorenz's `flamegraph` from npm (1.3.0; `npm install flamegraph` somewhere, pass its
bin/flamegraph), an SVG flame graph renderer; Brendan Gregg's flamegraph.pl and inferno do not
install here (no Debian package, no PyPI/npm release). It reads perf or V8 .cpuprofile input, so
it gets the same stacks as a .cpuprofile (one node per tree path with its hit count), made here
and not timed; its time is the whole `flamegraph -t cpuprofile < in > out.svg` process.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ljprof.profilers import cpu
from ljprof.reporting import flame


def make_raw(samples: int, stacks: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    names = [f"/ljprof/target/app/mod{i % 40}.lua:{rng.randint(1, 900)} fn{i}" for i in range(3000)]
    counts: dict[str, int] = {}
    weights = [1 / (i + 1) for i in range(stacks)]
    keys = []
    for _ in range(stacks):
        depth = rng.randint(4, 40)
        frames = ["/ljprof/target/main.lua:10 main", *rng.sample(names[:60], 2), *rng.sample(names, depth - 3)]
        keys.append(rng.choice("INNNCG") + "\t" + ";".join(frames))
    total = sum(weights)
    for key, w in zip(keys, weights, strict=True):
        counts[key] = counts.get(key, 0) + max(1, round(samples * w / total))
    header = "# ljprof cpu 1 interval_ms=10 depth=64 flushes=9 final=1\n"
    return header + "".join(f"{n}\t{k}\n" for k, n in counts.items())


def cpuprofile(stacks: flame.Stacks) -> dict[str, object]:
    """The stacks as a (pre-2016, nested) V8 .cpuprofile, the form the peer reads."""
    def node(name: str) -> dict[str, object]:
        return {"functionName": name, "url": "", "lineNumber": 0, "hitCount": 0, "children": []}

    head = node("(root)")
    index: dict[tuple[str, ...], dict[str, object]] = {(): head}
    for stack, count in stacks.items():
        for depth in range(1, len(stack) + 1):
            path = stack[:depth]
            if path not in index:
                index[path] = node(path[-1])
                children = index[path[:-1]]["children"]
                assert isinstance(children, list)
                children.append(index[path])
        leaf = index[stack]
        leaf["hitCount"] = int(str(leaf["hitCount"])) + count
    return {"head": head, "startTime": 0, "endTime": 1, "samples": [], "timestamps": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--stacks", type=int, default=20_000)
    parser.add_argument("--peer", default=shutil.which("flamegraph") or "/tmp/peer/node_modules/.bin/flamegraph")
    args = parser.parse_args()
    text = make_raw(args.samples, args.stacks)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "cpu.txt"
        raw.write_text(text)
        t0, c0 = time.perf_counter(), time.process_time()
        parsed = cpu.parse(raw.read_text())
        t1 = time.perf_counter()
        table = flame.intern(parsed.stacks)  # as flame.stacks_section does: once for the page and speedscope
        page = flame.flame_page(parsed.stacks, title="bench", interval_s=0.01, interned=table)
        folded = flame.folded(parsed.stacks)
        scope = json.dumps(flame.speedscope(parsed.stacks, name="bench", interval_s=0.01, interned=table),
                           separators=(",", ":"))
        t2, c2 = time.perf_counter(), time.process_time()
        n = flame.total_samples(parsed.stacks)
        print(f"fixture: {n:,} samples in {len(parsed.stacks):,} stacks, raw/cpu.txt {len(text) / 1e6:.1f} MB")
        print(f"ljprof: decode {t1 - t0:.3f} s, render {t2 - t1:.3f} s, total {t2 - t0:.3f} s (CPU {c2 - c0:.3f} s); "
              f"page {len(page.encode()) / 1e6:.2f} MB, folded {len(folded) / 1e6:.1f} MB, "
              f"speedscope {len(scope) / 1e6:.1f} MB")
        peer = Path(args.peer)
        if not peer.exists():
            print(f"peer: {peer} not found (npm install flamegraph; --peer PATH)")
            return 0
        profile = Path(tmp) / "in.cpuprofile"
        profile.write_text(json.dumps(cpuprofile(parsed.stacks)))
        with profile.open() as stdin, (Path(tmp) / "out.svg").open("w") as stdout:
            t3 = time.perf_counter()
            proc = subprocess.run([str(peer), "-t", "cpuprofile"], stdin=stdin, stdout=stdout,
                                  stderr=subprocess.PIPE, text=True, check=False)
            t4 = time.perf_counter()
        svg = (Path(tmp) / "out.svg").stat().st_size
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
        print(f"peer (npm flamegraph 1.3.0, -t cpuprofile): {t4 - t3:.3f} s, svg {svg / 1e6:.2f} MB ({status})")
        print(f"ratio: ljprof decode+render is {(t4 - t3) / (t2 - t0):.1f}x faster than the peer's render")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
