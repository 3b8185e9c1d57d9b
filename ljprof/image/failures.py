"""What to do about a failed image build that could not fetch something.

A build fetches from four places: Docker Hub (the base image), GitHub
(LuaJIT, loom), luarocks.org (LuaRocks and the rocks) and a Debian mirror
(apt). When one is out of reach the engine's own words (`dial tcp: lookup
registry-1.docker.io ... no such host`, `fatal: unable to connect`, `wget:
... Connection refused`) do not say that every source can be replaced; the
hint names the override for the step that failed and the README section.
Pure text in, text out, so every message is tested without a network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

README_SECTION = 'the README\'s "Without GitHub, Docker Hub or luarocks.org"'

# Words that a fetch which never reached its server leaves in the engine's error or the step's output.
_UNREACHABLE = re.compile(
    r"no such host|could not resolve|temporary failure in name resolution|name or service not known"
    r"|unable to connect|unable to access|connection refused|connection timed out|network is unreachable"
    r"|failed to connect|unable to resolve|i/o timeout|tls handshake timeout|failed to fetch"
    r"|pull access denied|manifest unknown|repository does not exist|not found: manifest"
    r"|unable to establish ssl connection|failed: connection|could not connect|error getting credentials"
    r"|404 not found|server returned http status|http error 40[34]",
    re.IGNORECASE,
)

# (what the failing step runs, what it fetches, what replaces it)
_STEPS = (
    ("FROM", "the base image (from Docker Hub)",
     "use a local base image: LJPROF_BASE_IMAGE=local/debian:bookworm (or --base-image; "
     "`sudo invoke base-image` makes one with debootstrap)"),
    ("build-luajit.sh", "LuaJIT's source (git clone)",
     "clone from a mirror with LJPROF_LUAJIT_GIT (and LJPROF_LUAJIT_REF), or copy a local tree with "
     "LJPROF_LUAJIT_SOURCE; LJPROF_BUILD_NETWORK=host reaches a mirror on this machine's loopback"),
    ("install-luarocks.sh", "LuaRocks or a rock (from luarocks.org)",
     "take LuaRocks and the rocks from Debian's packages: the `offline` recipe (--image offline or "
     "LJPROF_IMAGE=offline), or `luarocks: {from: debian}` in your recipe; or point `luarocks.url` at a copy"),
    ("install-loom.sh", "loom's source (git clone from GitHub)",
     "clone loom from a mirror with LJPROF_LOOM_GIT (and LJPROF_LOOM_REF), copy a checkout with "
     "LJPROF_LOOM_SOURCE, or build without loom with LJPROF_LOOM_GIT=none"),
    ("install-packages.sh", "Debian packages (apt)",
     "the build needs a Debian mirror: check the base image's sources, or LJPROF_BUILD_NETWORK=host "
     "for a mirror or proxy on this machine"),
)


def fetch_hint(instruction: str, lines: Iterable[str]) -> str:
    """A hint for a step that failed because it could not fetch something, else ''.

    `instruction` is the failing Dockerfile step (`FROM ${BASE_IMAGE}`, `RUN sh
    .../build-luajit.sh`); `lines` are the engine's error and the step's output.
    """
    text = "\n".join(lines)
    if not _UNREACHABLE.search(text):
        return ""
    for marker, what, replace in _STEPS:
        if instruction.startswith(marker) if marker == "FROM" else marker in instruction:
            return (f"  hint: the build could not fetch {what}. Every source can be replaced: {replace}. "
                    f"See {README_SECTION}.")
    return f"  hint: the build could not fetch what this step needs; see {README_SECTION} for the overrides."
