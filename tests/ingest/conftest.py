"""A Ray cluster shared by the Ray engine's tests, started once and always stopped."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from ray_cluster import RayCluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    cluster = RayCluster(cpus=2).start()
    try:
        yield cluster
    finally:
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():  # this process was a driver: leave before the cluster goes
            ray.shutdown()
        cluster.stop()
