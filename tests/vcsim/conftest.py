"""pytest fixtures for the simulator harness."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import harness


@pytest.fixture(scope="session")
def simulator_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator, built once per run (into $GPUC_VCSIM_BUILD when set, to reuse it)."""
    out = os.environ.get("GPUC_VCSIM_BUILD")
    return harness.build(Path(out) if out else tmp_path_factory.mktemp("build"))


@pytest.fixture
def seed() -> dict:
    """A fresh copy of the example seed, for a test to change before starting a simulator."""
    return harness.load_seed()


@pytest.fixture
def sim(simulator_binary: Path, seed: dict):
    """A simulator of the example seed, private to one test and stopped after it."""
    with harness.Simulator(simulator_binary, seed) as running:
        yield running


@pytest.fixture
def si(sim: harness.Simulator):
    connection = sim.connect()
    yield connection
    harness.Disconnect(connection)

