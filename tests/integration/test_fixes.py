"""ljprof's fixes to the fork's profilers (docker/patches/, docker/scripts/apply-fixes.sh).

- apply-fixes.sh on small source trees, on the host (sh and git, no Docker);
- on upstream LuaJIT every fix is "not applicable" and the image builds (image.json, labels, `invoke images`);
- a source whose file differs from the fork a fix was written for stops the build with a plain message;
- on Tarantool's fork (LJPROF_TEST_TARANTOOL_LUAJIT) the fixes apply, and memprof writes small files.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import docker
from ljprof import commands, docker_engine
from ljprof.config.loader import LUAJIT_FIXES
from ljprof.errors import BuildFailed

from .conftest import CI_RECIPE, NO_LOOM, all_container_ids

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docker" / "scripts" / "apply-fixes.sh"
ALL = ",".join(LUAJIT_FIXES)
NOT_APPLICABLE = {
    "memprof-symtab-redump": "not applicable: this LuaJIT has no src/lj_symtab.c "
                             "(the fix is for memprof of Tarantool's LuaJIT fork)",
    "profiler-stream-buffer": "not applicable: this LuaJIT has no src/lib_misc.c "
                              "(the fix is for memprof and sysprof of Tarantool's LuaJIT fork)",
}
MISMATCH_TAIL = [
    "ljprof fix 'memprof-symtab-redump' does not apply to this LuaJIT source: src/lj_symtab.c differs from the",
    "  source the fix was written for, tarantool/luajit b52fe979 (tarantool/master, 2024-10-17) "
    "(docker/patches/memprof-symtab-redump.patch).",
    "  hint: leave 'memprof-symtab-redump' out of 'luajit.fixes' of this recipe in profiles.yml",
    "  (list the others, or write 'fixes: none' to build the source as fetched)",
]


def patched_lines(name: str) -> tuple[str, list[str], list[str]]:
    """(file, its lines before, after) for a one-file patch: the fork's text as far as the hunks show it."""
    text = (REPO / "docker" / "patches" / f"{name}.patch").read_text()
    target = re.search(r"^\+\+\+ b/(\S+)$", text, re.M)
    assert target is not None
    before: list[str] = []
    after: list[str] = []
    body = text[text.index("\n@@ ") + 1:]
    for hunk in re.split(r"^@@ .*\n", body, flags=re.M)[1:]:
        for line in hunk.splitlines():
            if line.startswith(("-", " ")):
                before.append(line[1:])
            if line.startswith(("+", " ")):
                after.append(line[1:])
        before.append("/* ... */")
        after.append("/* ... */")
    return target[1], before, after


def fake_fork(root: Path, matching: bool = True) -> Path:
    """A tree with the fork's files as far as the patches' hunks show them (hunk offsets ignored)."""
    for name in LUAJIT_FIXES:
        path, before, _ = patched_lines(name)
        if not matching:
            before = [line.replace("lib_adds", "libs_added").replace("STREAM_BUFFER_SIZE (8", "STREAM_BUFSIZE (8")
                      for line in before]
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("\n".join(before) + "\n")
    return root


def apply_fixes(tree: Path, fixes: str, tmp_path: Path) -> tuple[int, str, list[list[str]]]:
    """Run the script as the image build does (script beside patches/): exit code, output, records."""
    bin_dir = tmp_path / "bin"
    if not bin_dir.exists():
        bin_dir.mkdir()
        shutil.copy(SCRIPT, bin_dir)
        shutil.copytree(REPO / "docker" / "patches", bin_dir / "patches")
    record = tmp_path / "record.tsv"
    proc = subprocess.run(["sh", str(bin_dir / "apply-fixes.sh"), str(tree), str(record)],
                          env={**os.environ, "LUAJIT_FIXES": fixes}, capture_output=True, text=True, check=False)
    records = [line.split("\t") for line in record.read_text().splitlines()] if record.exists() else []
    return proc.returncode, proc.stdout + proc.stderr, records


# -- the script on the host ---------------------------------------------------------------------


def test_fixes_apply_to_the_fork_and_are_recorded(tmp_path: Path) -> None:
    tree = fake_fork(tmp_path / "fork")
    code, output, records = apply_fixes(tree, ALL, tmp_path)
    assert code == 0, output
    assert [r[:2] for r in records] == [["memprof-symtab-redump", "true"], ["profiler-stream-buffer", "true"]]
    assert records[1][2] == "memprof and sysprof write through a 128 KiB buffer instead of 8 MiB"
    for name in LUAJIT_FIXES:
        path, _, after = patched_lines(name)
        assert (tree / path).read_text() == "\n".join(after) + "\n"
    assert "#define STREAM_BUFFER_SIZE (128 * 1024)" in (tree / "src" / "lib_misc.c").read_text()
    # a source that has the change already is left alone, and says so
    code, output, records = apply_fixes(tree, ALL, tmp_path)
    assert code == 0, output
    assert records == [[name, "false", "not applied: this source has the change already"] for name in LUAJIT_FIXES]


def test_none_touches_nothing_and_a_list_applies_only_its_fixes(tmp_path: Path) -> None:
    tree = fake_fork(tmp_path / "fork")
    pristine = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    code, output, records = apply_fixes(tree, "none", tmp_path)
    assert (code, records) == (0, [])
    assert "no ljprof fixes asked for (luajit.fixes: none): LuaJIT is built as fetched" in output
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == pristine
    code, output, records = apply_fixes(tree, "profiler-stream-buffer", tmp_path)
    assert code == 0, output
    assert [r[:2] for r in records] == [["profiler-stream-buffer", "true"]]
    assert (tree / "src" / "lj_symtab.c").read_bytes() == pristine[tree / "src" / "lj_symtab.c"]


def test_on_upstream_luajit_every_fix_is_not_applicable(tmp_path: Path) -> None:
    tree = tmp_path / "upstream"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "luajit.c").write_text("int main(void) { return 0; }\n")
    code, output, records = apply_fixes(tree, ALL, tmp_path)
    assert code == 0, output
    assert records == [[name, "false", why] for name, why in NOT_APPLICABLE.items()]


def test_a_fix_that_does_not_apply_stops_with_the_fix_the_file_and_the_hint(tmp_path: Path) -> None:
    tree = fake_fork(tmp_path / "fork", matching=False)
    before = (tree / "src" / "lj_symtab.c").read_text()
    code, output, _ = apply_fixes(tree, ALL, tmp_path)
    assert code == 3
    assert output.splitlines()[-4:] == MISMATCH_TAIL
    assert "error: patch failed: src/lj_symtab.c" in output  # what git says, above the plain message
    assert (tree / "src" / "lj_symtab.c").read_text() == before


def test_an_unknown_fix_name_is_refused(tmp_path: Path) -> None:
    code, output, _ = apply_fixes(fake_fork(tmp_path / "fork"), "memprof-symtab-redump,nope", tmp_path)
    assert code == 2
    assert "there is no ljprof fix 'nope'" in output
    assert "known fixes: memprof-symtab-redump profiler-stream-buffer" in output


# -- images ------------------------------------------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yml"
    path.write_text(text)
    return path


@pytest.mark.docker
def test_upstream_image_reports_every_fix_not_applicable(tmp_path: Path, docker_client: docker.DockerClient,
                                                         upstream_env: dict[str, str]) -> None:
    """The ci-git image of test_build.py (found by its tag, or built): fixes asked for, none applicable."""
    config = write_config(tmp_path, CI_RECIPE)
    outcome = commands.build(config, "ci-git", {}, upstream_env, io.StringIO())
    facts = commands.image_facts(docker_client, outcome.tag, outcome.image_id)
    assert facts["fixes"] == [{"name": name, "applied": False, "why": why} for name, why in NOT_APPLICABLE.items()]
    assert docker_client.images.get(outcome.tag).labels["org.ljprof.fixes"] == ALL
    # the image's own file says the same
    code, output = docker_engine.run_command(docker_client, outcome.tag, ["cat", "/usr/share/ljprof/luajit-fixes"])
    assert code == 0 and output.splitlines()[0].startswith("memprof-symtab-redump\tfalse\tnot applicable: ")
    expected = "  fixes     none (not applicable: memprof-symtab-redump, profiler-stream-buffer)\n"
    assert expected in commands.format_facts(facts)
    proc = subprocess.run([sys.executable, "-m", "invoke", "images"], cwd=REPO, env={**os.environ, **upstream_env},
                          capture_output=True, text=True, check=True)
    block = proc.stdout.split(f"{outcome.tag}  (recipe ci-git, ", 1)[1].split("\nljprof/", 1)[0] + "\n"
    assert expected in block, proc.stdout


@pytest.mark.docker
def test_a_fork_that_does_not_match_a_fix_stops_the_build_and_leaving_it_out_builds(
        tmp_path: Path, docker_client: docker.DockerClient, base_image: str, upstream_tree: Path) -> None:
    """Upstream LuaJIT with a src/lj_symtab.c that is not the fork's: the fix's step fails, plainly."""
    tree = tmp_path / "luajit"
    shutil.copytree(upstream_tree, tree, symlinks=True)
    fake_fork(tmp_path / "fake", matching=False)
    shutil.copy(tmp_path / "fake" / "src" / "lj_symtab.c", tree / "src" / "lj_symtab.c")
    recipe = "images:\n  ci-mismatch:\n    luajit: {path: luajit%s}\n    luarocks: {from: debian}\n" \
             "    rocks: [lua-cjson, luasocket]\n"
    environ = {"LJPROF_BASE_IMAGE": base_image, "LJPROF_BUILD_NETWORK": "host", **NO_LOOM}
    before = all_container_ids(docker_client)
    with pytest.raises(BuildFailed) as info:
        commands.build(write_config(tmp_path, recipe % ""), "ci-mismatch", {}, environ, io.StringIO())
    message = str(info.value)
    assert re.match(r"the image build failed at step \d+/\d+: RUN sh /usr/local/lib/ljprof/build/build-luajit.sh\n"
                    r"The command '/bin/sh -c sh /usr/local/lib/ljprof/build/build-luajit.sh' returned a "
                    r"non-zero code: 3\n", message), message
    assert message.splitlines()[-4:] == MISMATCH_TAIL
    assert info.value.exit_code == 4
    assert all_container_ids(docker_client) == before

    # as the hint says: without that fix the image builds; the other one does not apply to upstream LuaJIT
    config = write_config(tmp_path, recipe % ", fixes: [profiler-stream-buffer]")
    outcome = commands.build(config, "ci-mismatch", {}, environ, io.StringIO())
    facts = commands.image_facts(docker_client, outcome.tag, outcome.image_id)
    assert facts["fixes"] == [{"name": "profiler-stream-buffer", "applied": False,
                               "why": NOT_APPLICABLE["profiler-stream-buffer"]}]
    assert docker_client.images.get(outcome.tag).labels["org.ljprof.fixes"] == "profiler-stream-buffer"


# -- Tarantool's fork -----------------------------------------------------------------------------------

DECODE_LOOP = """
local cjson = require("cjson")
local doc = '{"id":1,"name":"ljprof","tags":["a","b","c"],"nested":{"x":1.5,"y":[1,2,3]}}'
local before = collectgarbage("count")
assert(misc.memprof.start("/tmp/m.bin"))
local during = collectgarbage("count")
local keep = {}
for i = 1, 1000 do keep[i % 10 + 1] = cjson.decode(doc) end
assert(misc.memprof.stop())
-- a second profile in the same process gets the C symbols again
assert(misc.memprof.start("/tmp/m2.bin"))
for i = 1, 10 do keep[i] = cjson.decode(doc) end
assert(misc.memprof.stop())
local f = io.open("/tmp/m.bin", "rb")
print(f:seek("end"), math.floor(during - before))
f:close()
"""


@pytest.mark.tarantool
@pytest.mark.docker
def test_fixed_fork_writes_small_memprof_files_on_a_cjson_loop(
        tmp_path: Path, docker_client: docker.DockerClient, tarantool_env: dict[str, str]) -> None:
    # the recipe of test_build.py's fork test: the same image
    config = write_config(tmp_path, "images:\n  ci-tarantool:\n    luarocks: {from: debian}\n")
    environ = dict(tarantool_env)
    outcome = commands.build(config, "ci-tarantool", {}, environ, io.StringIO())
    facts = commands.image_facts(docker_client, outcome.tag, outcome.image_id)
    assert [(f["name"], f["applied"]) for f in facts["fixes"]] == [
        ("memprof-symtab-redump", True), ("profiler-stream-buffer", True)]
    assert "  fixes     memprof-symtab-redump, profiler-stream-buffer\n" in commands.format_facts(facts)

    code, output = docker_engine.run_command(docker_client, outcome.tag, [
        "sh", "-c", f"cat > /tmp/t.lua <<'EOF'\n{DECODE_LOOP}\nEOF\n"
        "luajit /tmp/t.lua && luajit -tm /tmp/m.bin > /tmp/r1.txt && luajit -tm /tmp/m2.bin > /tmp/r2.txt "
        "&& cat /tmp/r1.txt && echo '--- second' && cat /tmp/r2.txt"])
    assert code == 0, output
    size, jump = (int(v) for v in output.splitlines()[0].split("\t"))
    # the fork as fetched writes ~1.5 GB here (every C symbol again on every allocation made by cjson)
    assert size < 1_000_000, output
    assert jump < 1024  # KB: the 128 KiB stream buffer, not 8 MiB
    first, second = output.split("\n--- second\n")
    assert first.splitlines()[1] == "ALLOCATIONS"
    # cjson's allocations are named after a C symbol in both profiles (not a bare address)
    for report in (first, second):
        c_site = re.search(r"^(\S+):0x[0-9a-f]+: \d+ events\t\+\d+B\t-0B$", report, re.M)
        assert c_site is not None, report
    assert not re.search(r"^INTERNAL: \d{5,} events", first, re.M), first  # no ELF-parser storm
