"""Build planning: overrides, build arguments, the content-hash tag, the context."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from ljprof.config.loader import LUAJIT_FIXES, load_config, parse_config
from ljprof.config.model import ImageRecipe
from ljprof.errors import ConfigError
from ljprof.image.context import PLACEHOLDER, write_context_dir, write_context_tar
from ljprof.image.plan import CONTEXT_FILES, PACKAGE_ROOT, Overrides, collect_overrides, plan_build

REPO = Path(__file__).resolve().parents[2]
DEFAULT = load_config(REPO / "profiles.yml").images["default"]
OFFLINE = load_config(REPO / "profiles.yml").images["offline"]


def no_options() -> dict[str, str | None]:
    return {}


def fake_luajit_tree(root: Path, cmake: bool) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "luajit.c").write_text("int main(void) { return 0; }\n")
    (root / "Makefile").write_text("all:\n")
    if cmake:
        (root / "CMakeLists.txt").write_text("project(luajit C)\n")
    return root


def test_default_recipe_build_arguments_reproduce_the_original_dockerfile() -> None:
    plan = plan_build(DEFAULT, Overrides())
    args = dict(plan.build_args)
    content_hash = args.pop("LJPROF_IMAGE_HASH")
    assert args == {
        "BASE_IMAGE": "buildpack-deps:bullseye",
        "APT_PACKAGES": "cmake libjs-jquery",  # jQuery for loom's page, inlined by the jit profiler
        "LUAROCKS_FROM": "source",
        "DEBIAN_LUA_PACKAGES": "",
        "LUAJIT_FROM": "git",
        "LUAJIT_GIT": "https://github.com/tarantool/luajit.git",
        "LUAJIT_REF": "b52fe9795db249e7803aeef22c2ed6129a97aaeb",
        "LUAJIT_BUILD": "auto",
        "LUAJIT_CMAKE_OPTIONS": "",
        "LUAJIT_COMMIT": "",
        "LUAJIT_FIXES": "memprof-symtab-redump,profiler-stream-buffer",  # ours, on by default
        "LUAROCKS_VERSION": "3.8.0",
        "LUAROCKS_URL": "https://luarocks.org/releases/luarocks-3.8.0.tar.gz",
        "ROCKS": "luasec copas lua-cjson",
        "LOOM_FROM": "git",  # ours: loom for the jit profiler
        "LOOM_GIT": "https://github.com/cloudflare/loom.git",
        "LOOM_REF": "643db2f1840e23c62c0bcdadc3131eef03a6e431",
        "LJPROF_RECIPE": "default",
    }
    assert content_hash == plan.content_hash
    assert plan.tag == f"ljprof/luajit:default-{content_hash[:12]}"
    assert plan.network is None
    assert plan.labels == {"org.ljprof.managed": "true", "org.ljprof.recipe": "default",
                           "org.ljprof.hash": content_hash,
                           "org.ljprof.fixes": "memprof-symtab-redump,profiler-stream-buffer"}


def test_offline_recipe_takes_luarocks_and_rocks_from_debian() -> None:
    args = plan_build(OFFLINE, Overrides()).build_args
    assert args["LUAROCKS_FROM"] == "debian"
    assert args["DEBIAN_LUA_PACKAGES"] == "luarocks lua-sec lua-copas lua-cjson lua-socket"
    assert (args["ROCKS"], args["LUAROCKS_URL"], args["LUAROCKS_VERSION"]) == ("", "", "")


def test_the_dockerfile_defaults_are_the_default_recipe() -> None:
    """A plain `docker build` of the context (no build args) gives the default image."""
    dockerfile = (REPO / "docker" / "luajit.Dockerfile").read_text()
    args = plan_build(DEFAULT, Overrides()).build_args
    for name in ("BASE_IMAGE", "APT_PACKAGES", "LUAROCKS_FROM", "LUAJIT_FROM", "LUAJIT_GIT", "LUAJIT_BUILD",
                 "LUAJIT_FIXES", "LUAROCKS_VERSION", "LUAROCKS_URL", "ROCKS", "LOOM_FROM", "LOOM_GIT", "LOOM_REF",
                 "LJPROF_RECIPE"):
        value = args[name]
        assert f'ARG {name}="{value}"' in dockerfile or f"ARG {name}={value}\n" in dockerfile, name


def test_same_inputs_give_the_same_tag_and_any_change_a_new_one() -> None:
    first = plan_build(DEFAULT, Overrides())
    assert plan_build(DEFAULT, Overrides()).tag == first.tag
    changed = [
        collect_overrides({"LJPROF_BASE_IMAGE": "local/debian:bookworm"}, no_options()),
        collect_overrides({"LJPROF_LUAJIT_REF": "v2.1"}, no_options()),
        collect_overrides({"LJPROF_LUAJIT_GIT": "git://127.0.0.1/luajit"}, no_options()),
    ]
    tags = {plan_build(DEFAULT, ov).tag for ov in changed}
    assert first.tag not in tags and len(tags) == 3
    # the network a build uses does not change what it builds
    host = collect_overrides({"LJPROF_BUILD_NETWORK": "host"}, no_options())
    assert plan_build(DEFAULT, host).tag == first.tag
    assert plan_build(DEFAULT, host).network == "host"


def recipe_with_fixes(fixes: str) -> ImageRecipe:
    text = f"images:\n  default:\n    luajit: {{fixes: {fixes}}}\n    loom: true\n"
    return parse_config(text, "p.yml", REPO).images["default"]


def test_fixes_are_a_build_argument_a_label_and_part_of_the_tag() -> None:
    plans = {fixes: plan_build(recipe_with_fixes(fixes), Overrides())
             for fixes in ("all", "none", "[memprof-symtab-redump]", "[profiler-stream-buffer]")}
    assert plans["all"].tag == plan_build(DEFAULT, Overrides()).tag  # `all` is the default
    assert {fixes: p.build_args["LUAJIT_FIXES"] for fixes, p in plans.items()} == {
        "all": "memprof-symtab-redump,profiler-stream-buffer",
        "none": "none",
        "[memprof-symtab-redump]": "memprof-symtab-redump",
        "[profiler-stream-buffer]": "profiler-stream-buffer",
    }
    assert {p.labels["org.ljprof.fixes"] for p in plans.values()} == {
        p.build_args["LUAJIT_FIXES"] for p in plans.values()}
    assert len({p.tag for p in plans.values()}) == 4
    # the order a recipe lists them in does not matter
    swapped = recipe_with_fixes("[profiler-stream-buffer, memprof-symtab-redump]")
    assert plan_build(swapped, Overrides()).tag == plans["all"].tag


def test_none_builds_the_fork_as_the_original_dockerfile_did() -> None:
    """`fixes: none` changes nothing but the build argument that tells apply-fixes.sh to do nothing."""
    args = plan_build(recipe_with_fixes("none"), Overrides()).build_args
    default_args = plan_build(DEFAULT, Overrides()).build_args
    changed = {k for k in args if args[k] != default_args[k]}
    assert changed == {"LUAJIT_FIXES", "LJPROF_IMAGE_HASH"}
    script = (REPO / "docker" / "scripts" / "apply-fixes.sh").read_text()
    assert 'if [ "$fixes" = none ]; then' in script


def test_every_fix_has_its_patch_in_the_build_context() -> None:
    patches = sorted(p.stem for p in (REPO / "docker" / "patches").glob("*.patch"))
    assert patches == sorted(LUAJIT_FIXES)
    context = dict(CONTEXT_FILES)
    for name in LUAJIT_FIXES:
        rel = context[f"patches/{name}.patch"]
        text = (PACKAGE_ROOT / rel).read_text()
        assert text.startswith(f"Fix: {name}\nSummary: "), name
        assert "\nApplies-to: " in text and "\nWritten-for: " in text and "\n+++ b/src/" in text, name


def test_a_change_to_a_patch_changes_the_tag(tmp_path: Path) -> None:
    for _, rel in CONTEXT_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PACKAGE_ROOT / rel, tmp_path / rel)
    none = recipe_with_fixes("none")
    before = (plan_build(DEFAULT, Overrides(), package_root=tmp_path).tag,
              plan_build(none, Overrides(), package_root=tmp_path).tag)
    patch = tmp_path / "docker" / "patches" / "profiler-stream-buffer.patch"
    patch.write_text(patch.read_text().replace("(128 * 1024)", "(64 * 1024)"))
    after = (plan_build(DEFAULT, Overrides(), package_root=tmp_path).tag,
             plan_build(none, Overrides(), package_root=tmp_path).tag)
    # every image's context holds every patch, so `none` images are rebuilt too (cheap, and simpler)
    assert after[0] != before[0] and after[1] != before[1]


def test_a_change_to_a_context_file_changes_the_tag(tmp_path: Path) -> None:
    for _, rel in CONTEXT_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PACKAGE_ROOT / rel, tmp_path / rel)
    before = plan_build(DEFAULT, Overrides(), package_root=tmp_path).tag
    assert before == plan_build(DEFAULT, Overrides()).tag
    script = tmp_path / "docker" / "scripts" / "build-luajit.sh"
    script.write_text(script.read_text() + "\n# changed\n")
    assert plan_build(DEFAULT, Overrides(), package_root=tmp_path).tag != before


def test_local_source_is_hashed_and_its_build_system_detected(tmp_path: Path) -> None:
    tree = fake_luajit_tree(tmp_path / "lj", cmake=False)
    ov = collect_overrides({"LJPROF_LUAJIT_SOURCE": str(tree)}, no_options())
    plan = plan_build(DEFAULT, ov)
    assert plan.local_source == tree
    assert plan.build_args["LUAJIT_FROM"] == "local"
    assert plan.build_args["LUAJIT_BUILD"] == "make"
    assert (plan.build_args["LUAJIT_GIT"], plan.build_args["LUAJIT_REF"]) == ("", "")
    (tree / "src" / "lj_gc.c").write_text("/* new file */\n")
    assert plan_build(DEFAULT, ov).tag != plan.tag
    (tree / "CMakeLists.txt").write_text("project(luajit C)\n")
    assert plan_build(DEFAULT, ov).build_args["LUAJIT_BUILD"] == "cmake"


def test_task_options_win_over_environment_and_git_replaces_local_source(tmp_path: Path) -> None:
    tree = fake_luajit_tree(tmp_path / "lj", cmake=True)
    env = {"LJPROF_LUAJIT_SOURCE": str(tree), "LJPROF_BASE_IMAGE": "debian:bookworm"}
    ov = collect_overrides(env, {"luajit_git": "https://example.org/lj.git", "base_image": "local/debian:bookworm"})
    assert ov.luajit_source is None
    assert ov.describe() == [
        "base_image = local/debian:bookworm (from --base-image)",
        "luajit_git = https://example.org/lj.git (from --luajit-git)",
    ]
    recipe = plan_build(DEFAULT, ov).recipe
    assert (recipe.base, recipe.luajit.git, recipe.luajit.path) == (
        "local/debian:bookworm", "https://example.org/lj.git", None)


@pytest.mark.parametrize(
    ("env", "options", "message"),
    [
        ({"LJPROF_BASE_IMAGE": "Not An Image"}, {},
         "LJPROF_BASE_IMAGE: 'Not An Image' is not a Docker image reference such as local/debian:bookworm"),
        ({}, {"luajit_git": "github.com/tarantool/luajit"},
         "--luajit-git: 'github.com/tarantool/luajit' is not a git URL "
         "(https://, git://, ssh://, file:// or user@host:path)"),
        ({"LJPROF_LUAJIT_REF": "a b"}, {}, "LJPROF_LUAJIT_REF: 'a b' is not a git commit, tag or branch name"),
        ({"LJPROF_LUAJIT_SOURCE": "/no/such/tree"}, {}, "LJPROF_LUAJIT_SOURCE: '/no/such/tree' does not exist"),
        ({"LJPROF_BUILD_NETWORK": "bridged"}, {},
         "LJPROF_BUILD_NETWORK: 'bridged' is not a build network mode; use one of: default, host, none, bridge"),
        ({"LJPROF_LUAJIT_GIT": "git://127.0.0.1/lj", "LJPROF_LUAJIT_SOURCE": "/tmp"}, {},
         "LJPROF_LUAJIT_GIT and LJPROF_LUAJIT_SOURCE are both set\n"
         "  hint: give a git URL (and ref) to clone, or a local source tree to copy, not both"),
    ],
)
def test_bad_overrides_name_the_variable_or_option(env: dict[str, str], options: dict[str, str | None],
                                                  message: str) -> None:
    with pytest.raises(ConfigError) as info:
        collect_overrides(env, options)
    assert str(info.value) == message


def test_cmake_options_on_a_make_tree_are_refused(tmp_path: Path) -> None:
    tree = fake_luajit_tree(tmp_path / "lj", cmake=False)
    text = "images:\n  x:\n    luajit:\n      path: lj\n      cmake_options: [-DLUAJIT_USE_VALGRIND=ON]\n"
    recipe: ImageRecipe = parse_config(text, "p.yml", tmp_path).images["x"]
    with pytest.raises(ConfigError) as info:
        plan_build(recipe, Overrides())
    assert str(info.value) == (
        f"images.x.luajit.cmake_options: given, but the source tree {tree} builds with make\n"
        "  hint: CMake options apply to Tarantool's fork only; drop them for upstream LuaJIT")


def test_context_holds_the_dockerfile_scripts_and_the_source(tmp_path: Path) -> None:
    git_plan = plan_build(DEFAULT, Overrides())
    buf = io.BytesIO()
    write_context_tar(git_plan, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        names = tar.getnames()
        assert {m.mtime for m in tar.getmembers()} == {0}
        dockerfile = tar.extractfile("Dockerfile")
        assert dockerfile is not None and b"FROM ${BASE_IMAGE}" in dockerfile.read()
    assert names == [name for name, _ in CONTEXT_FILES] + [f"loom-src/{PLACEHOLDER}", f"luajit-src/{PLACEHOLDER}"]

    tree = fake_luajit_tree(tmp_path / "lj", cmake=True)
    local_plan = plan_build(DEFAULT, collect_overrides({"LJPROF_LUAJIT_SOURCE": str(tree)}, no_options()))
    out = tmp_path / "ctx"
    write_context_dir(local_plan, out)
    assert (out / "luajit-src" / "src" / "luajit.c").read_text() == "int main(void) { return 0; }\n"
    assert (out / "scripts" / "build-luajit.sh").read_bytes() == (REPO / "docker/scripts/build-luajit.sh").read_bytes()
    assert not (out / "luajit-src" / PLACEHOLDER).exists()


def fake_loom_checkout(root: Path) -> Path:
    (root / "jit").mkdir(parents=True)
    (root / "jit" / "loom.lua").write_text("return {}\n")
    (root / "loom.html").write_text("<html>{{ }}</html>\n")
    (root / "COPYRIGHT").write_text("MIT\n")
    (root / "sample.lua").write_text("-- not taken into the image\n")
    return root


def without_loom(recipe: ImageRecipe) -> ImageRecipe:
    return ImageRecipe(recipe.name, recipe.base, recipe.apt, recipe.luajit, recipe.luarocks, recipe.rocks)


def test_loom_is_cloned_pinned_with_debian_jquery_and_overridable_like_luajit(tmp_path: Path) -> None:
    assert DEFAULT.loom is not None and OFFLINE.loom is not None
    args = plan_build(OFFLINE, collect_overrides({"LJPROF_LOOM_GIT": "git://127.0.0.1:9419/loom"},
                                                 no_options())).build_args
    assert (args["LOOM_FROM"], args["LOOM_GIT"], args["LOOM_REF"]) == (
        "git", "git://127.0.0.1:9419/loom", "643db2f1840e23c62c0bcdadc3131eef03a6e431")
    assert args["APT_PACKAGES"] == "cmake libjs-jquery"

    checkout = fake_loom_checkout(tmp_path / "loom")
    local = plan_build(OFFLINE, collect_overrides({"LJPROF_LOOM_SOURCE": str(checkout)}, no_options()))
    assert (local.build_args["LOOM_FROM"], local.build_args["LOOM_GIT"], local.loom_source) == ("local", "", checkout)
    out = tmp_path / "ctx"
    write_context_dir(local, out)
    assert sorted(p.relative_to(out / "loom-src").as_posix() for p in (out / "loom-src").rglob("*") if p.is_file()) \
        == ["COPYRIGHT", "jit/loom.lua", "loom.html"]
    before = local.tag
    (checkout / "loom.html").write_text("<html>changed</html>\n")
    assert plan_build(OFFLINE, collect_overrides({"LJPROF_LOOM_SOURCE": str(checkout)}, no_options())).tag != before

    # loom's overrides never add loom to a recipe without it (CI's images keep their tags)
    bare = without_loom(OFFLINE)
    plain = plan_build(bare, Overrides())
    assert plan_build(bare, collect_overrides({"LJPROF_LOOM_GIT": "git://x/loom"}, no_options())).tag == plain.tag
    assert (plain.build_args["LOOM_FROM"], plain.build_args["APT_PACKAGES"]) == ("none", "cmake")

    # LJPROF_LOOM_GIT=none builds a recipe that has loom without it (no GitHub, no mirror), as the recipe
    # without loom would be
    dropped = plan_build(OFFLINE, collect_overrides({"LJPROF_LOOM_GIT": "none"}, no_options()))
    assert (dropped.tag, dropped.build_args) == (plain.tag, plain.build_args)
    assert dropped.tag != plan_build(OFFLINE, Overrides()).tag


@pytest.mark.parametrize(("env", "message"), [
    ({"LJPROF_LOOM_GIT": "git://x/loom", "LJPROF_LOOM_SOURCE": "/tmp"},
     "LJPROF_LOOM_GIT and LJPROF_LOOM_SOURCE are both set"),
    ({"LJPROF_LOOM_GIT": "not a url"}, "LJPROF_LOOM_GIT: 'not a url' is not a git URL (https://, git://, ssh://, "
                                       "file:// or user@host:path), or 'none' to build without loom"),
    ({"LJPROF_LOOM_REF": "bad ref"}, "LJPROF_LOOM_REF: 'bad ref' is not a git commit, tag or branch name"),
    ({"LJPROF_LOOM_SOURCE": "/nonexistent/loom"}, "LJPROF_LOOM_SOURCE: '/nonexistent/loom' does not exist"),
    ({"LJPROF_LOOM_SOURCE": "/tmp"},
     "LJPROF_LOOM_SOURCE: '/tmp' is not a loom checkout (no jit/loom.lua or loom.html)"),
])
def test_bad_loom_overrides_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        collect_overrides(env, no_options())
    assert str(info.value).startswith(message)
