"""The shared monitor (see ``tests.faults.monitor``) for the privacy tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import monitor as shared


@pytest.fixture(scope="session")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[shared.SharedMonitor]:
    yield shared.acquire(tmp_path_factory.mktemp("shared-monitor"))
    shared.release()
