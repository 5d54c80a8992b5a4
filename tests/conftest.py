"""Shared pytest set-up: isolate every ROS 2 test on its own DDS domain, on loopback only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

_next_domain = [100 + (os.getpid() % 50)]


@pytest.fixture
def ros_domain_id(monkeypatch: pytest.MonkeyPatch) -> int:
    """A DDS domain id used by no other test of this run (exported to child processes too)."""
    _next_domain[0] = 100 + ((_next_domain[0] - 100 + 1) % 130)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(_next_domain[0]))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return _next_domain[0]


@pytest.fixture
def repo() -> Path:
    return REPO
