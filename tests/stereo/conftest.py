"""stereo tests: one torch thread (two cores shared with other suites; spinning OpenMP threads
on an oversubscribed CPU slow small models down by an order of magnitude)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
