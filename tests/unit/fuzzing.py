"""What the decoders' fuzz tests share: how many examples, and a watchdog for a decoder that hangs.

A fuzz module imports both; `watchdog` is an autouse fixture there."""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# LJPROF_FUZZ_EXAMPLES=20000 for a longer run.
FUZZ = settings(max_examples=int(os.environ.get("LJPROF_FUZZ_EXAMPLES", "250")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """A decoder that hangs ends the run with every thread's traceback, not a silent CI timeout."""
    faulthandler.dump_traceback_later(600, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
