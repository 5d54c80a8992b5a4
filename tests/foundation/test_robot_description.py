"""The committed URDF/SRDF/joint_limits.yaml are exactly what the generator writes from robot.yaml."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from cell_config.robot_description import ROBOTS_DIR, generated_files, load_definition

ROBOTS = sorted(p.name for p in ROBOTS_DIR.iterdir() if (p / "robot.yaml").is_file())


@pytest.mark.parametrize("robot", ROBOTS)
def test_generated_files_do_not_drift(robot: str) -> None:
    for path, text in generated_files(robot).items():
        assert path.read_text() == text, (
            f"{path} differs from its generator: run python -m cell_config.robot_description"
        )


@pytest.mark.parametrize("robot", ROBOTS)
def test_srdf_disables_every_adjacent_pair(robot: str) -> None:
    n = len(load_definition(robot).joints)
    root = ET.parse(ROBOTS_DIR / robot / f"{robot}.srdf").getroot()
    pairs = {frozenset((d.get("link1"), d.get("link2"))) for d in root.findall("disable_collisions")}
    links = ["base_link"] + [f"link{i + 1}" for i in range(n)]
    for a, b in itertools.pairwise(links):
        assert frozenset((a, b)) in pairs
