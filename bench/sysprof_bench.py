"""ljprof's sysprof decoder + flame-graph render against Tarantool's parser (`luajit -ts`), same file.

    python bench/sysprof_bench.py [--image ljprof/luajit:TAG] [--samples 1000000] [--workdir /tmp/ljprof-sysprof-bench]

Generates a sysprof stream of N samples: the symbol table and sample forms
of tests/fixtures/sysprof/hot-L.bin (or hot-C.bin: --mode C; recorded on the fork), the samples
repeated in their recorded proportions up to N, then the end marker. Times
ljprof (decode, name frames, render sysprof.html, .folded, .speedscope.json)
here, and the peer inside the image (the time it reports from inside the
container, so docker's start-up is not counted); prints both, the ratio, and
the first lines each prints.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ljprof.profilers.sysprof import Namer, decode, parse_ffnames, stacks  # noqa: E402
from ljprof.profilers.sysprof.stream import (  # noqa: E402
    EPILOGUE,
    EVENT_PROTO,
    RUN_RE,
    SAMPLE_RE,
    SYSPROF_MAGIC,
    _string,
    _uleb,
)
from ljprof.reporting.flame import flame_page, folded, speedscope  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "sysprof"


def generate(samples: int, mode: str) -> bytes:
    data = (FIXTURE / f"hot-{mode}.bin").read_bytes()
    start = data.index(SYSPROF_MAGIC + b"\x02\x00\x00\x00") + 7
    forms: list[bytes] = []
    events: list[bytes] = []  # prototypes and traces announced while profiling: kept, before the samples
    p = start
    while data[p] != EPILOGUE:
        run = RUN_RE.match(data, p)
        if run is not None:
            forms += SAMPLE_RE.findall(data, p, run.end())
            p = run.end()
            continue
        q = p + 1
        if data[p] == EVENT_PROTO:
            q = _uleb(data, q)[1]
            q = _string(data, q)[1]
            q = _uleb(data, q)[1]
        else:  # EVENT_TRACE
            for _ in range(3):
                q = _uleb(data, q)[1]
        events.append(data[p:q])
        p = q
    copies, rest = divmod(samples, len(forms))
    return data[:start] + b"".join(events) + b"".join(forms) * copies + b"".join(forms[:rest]) + bytes([EPILOGUE])


def ljprof_time(data: bytes) -> tuple[float, str, int]:
    t0 = time.perf_counter()
    decoded = decode(data)
    by_stack = stacks(decoded, Namer(decoded.csyms, parse_ffnames((FIXTURE / "ffnames.txt").read_text()), None))
    page = flame_page(by_stack, title="sysprof")
    text = folded(by_stack)
    json.dump(speedscope(by_stack, name="bench", interval_s=0.001), io.StringIO())
    return time.perf_counter() - t0, text, len(page.encode())


def find_image() -> str:
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "ljprof/luajit"],
                         capture_output=True, text=True, check=True).stdout.split()
    for ref in out:
        probe = subprocess.run(["docker", "run", "--rm", "--network", "none", ref, "luajit", "-e",
                                "assert(misc.sysprof)"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ref
    sys.exit("no ljprof image of Tarantool's LuaJIT: build one (invoke build --image offline)")


def peer_time(image: str, workdir: Path) -> tuple[float, str]:
    script = ("s=$(date +%s%N); luajit -ts /w/bench.bin > /w/peer.txt 2> /w/peer.err; rc=$?; "
              "e=$(date +%s%N); echo $rc $(( (e - s) / 1000000 ))")
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{workdir}:/w", image, "sh", "-c",
                          script], capture_output=True, text=True, check=True).stdout.split()
    rc, ms = int(out[0]), int(out[1])
    text = (workdir / "peer.txt").read_text(errors="replace") + (workdir / "peer.err").read_text(errors="replace")
    return ms / 1000, (f"exit {rc}\n" if rc else "") + text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image")
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=("L", "C"), default="L", help="the recorded stream to repeat")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ljprof-sysprof-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir.chmod(0o777)
    data = generate(args.samples, args.mode)
    (args.workdir / "bench.bin").write_bytes(data)
    image = args.image or find_image()
    ours, text, page_bytes = ljprof_time(data)
    theirs, peer = peer_time(image, args.workdir)
    print(f"file: {args.samples:,} samples (mode {args.mode}), {len(data):,} bytes; peer image {image}")
    print(f"ljprof (decode + names + flame page, folded, speedscope): {ours:.2f} s; page {page_bytes:,} bytes")
    print(f"luajit -ts (inside the container):                        {theirs:.2f} s")
    print(f"ratio: ljprof takes {ours / theirs:.2f}x the peer's time ({theirs / ours:.1f}x faster)")
    print("ljprof's folded stacks (first lines):")
    print("".join(f"  {line}\n" for line in text.splitlines()[:4]), end="")
    print("luajit -ts prints (first lines):")
    print("".join(f"  {line}\n" for line in peer.splitlines()[:4]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
