"""The cell model: default cells load, frames resolve, limits are checked, bad YAML is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pinocchio as pin
import pytest
import yaml

from cell_config import ConfigError, load_cell
from cell_config.compose import cell_srdf, cell_urdf
from cell_config.loader import CELLS_DIR

ALL_CELLS = sorted(CELLS_DIR.glob("*.yaml"))


def test_there_are_two_cells_with_different_robots() -> None:
    robots = {load_cell(p).spec.robot.name for p in ALL_CELLS}
    assert {"ur5e", "panda"} <= robots


@pytest.mark.parametrize("path", ALL_CELLS, ids=lambda p: p.stem)
def test_every_cell_loads_and_composes(path: Path) -> None:
    cell = load_cell(path)
    assert len(cell.joint_names) == len(cell.home) >= 6
    for lim in cell.limits:
        assert lim.lower < lim.upper and lim.velocity > 0
        assert lim.acceleration is not None and lim.acceleration > 0  # TOTG/toppra need them
    model = pin.buildModelFromXML(cell_urdf(cell))
    assert model.existFrame("tcp") and model.existFrame("finger_left")
    srdf = cell_srdf(cell)
    assert 'name="gripper"' in srdf and "disable_collisions" in srdf
    for st in cell.spec.stations:
        assert cell.T_world_station(st.name).shape == (4, 4)


def test_ur5e_matches_published_dh_zero_pose() -> None:
    """UR5e at q = 0: tool0 at x = -(a2 + a3), y = -(d4 + d6), z = d1 - d5 in the base frame."""
    cell = load_cell()
    model = pin.buildModelFromUrdf(str(cell.urdf_path))
    data = model.createData()
    pin.framesForwardKinematics(model, data, np.zeros(model.nq))
    p = data.oMf[model.getFrameId("tool0")].translation
    np.testing.assert_allclose(p, [-0.8172, -0.2329, 0.0628], atol=1e-6)


def test_panda_home_matches_published_pose() -> None:
    cell = load_cell(CELLS_DIR / "panda_cell.yaml")
    model = pin.buildModelFromUrdf(str(cell.urdf_path))
    data = model.createData()
    pin.framesForwardKinematics(model, data, cell.home)
    T = data.oMf[model.getFrameId("tool0")]
    np.testing.assert_allclose(T.translation, [0.3069, 0.0, 0.5903], atol=2e-3)
    np.testing.assert_allclose(T.rotation[:, 2], [0, 0, -1], atol=1e-3)  # flange points down


def test_home_tcp_is_above_the_table_in_front_of_the_robot() -> None:
    cell = load_cell()
    model = pin.buildModelFromXML(cell_urdf(cell))
    data = model.createData()
    q = pin.neutral(model)
    q[: len(cell.home)] = cell.home
    pin.framesForwardKinematics(model, data, q)
    p = (cell.T_world_base @ data.oMf[model.getFrameId("tcp")].homogeneous)[:3, 3]
    assert p[0] > 0.3 and p[2] > 0.2  # base yawed 180 deg: the arm faces +x, where the stations are


def test_slot_grid_is_centred_and_named() -> None:
    cell = load_cell()
    slots = cell.slot_poses_world("feeder")
    assert set(slots) == {f"{r}{c}" for r in "ABC" for c in (1, 2, 3)}
    centre = np.mean([T[:3, 3] for T in slots.values()], axis=0)
    np.testing.assert_allclose(centre, cell.T_world_station("feeder")[:3, 3], atol=1e-9)
    np.testing.assert_allclose(slots["A1"][:3, 3] - slots["A2"][:3, 3], [0, -0.11, 0], atol=1e-9)


def _write_variant_of_default(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load((CELLS_DIR / "ur5e_cell.yaml").read_text())
    for key in ("urdf", "srdf", "joint_limits"):
        raw["robot"][key] = str((CELLS_DIR / raw["robot"][key]).resolve())
    edit(raw)
    out = tmp_path / "cell.yaml"
    out.write_text(yaml.safe_dump(raw))
    return out


BAD_CELLS = {
    "unknown_key": (lambda r: r["gripper"].update(strokee_m=0.1), "gripper.strokee_m", "unknown key"),
    "missing_urdf": (
        lambda r: r["robot"].update(urdf="/nonexistent/robot.urdf"),
        "robot.urdf",
        "file not found",
    ),
    "pose_two_numbers": (
        lambda r: r["stations"][0]["pose"].update(xyz_m=[0.1, 0.2]),
        "stations.0.pose.xyz_m",
        "expected 3 numbers, got 2",
    ),
    "two_orientations": (
        lambda r: r["robot"]["base_pose"].update(rpy_rad=[0, 0, 0]),
        "robot.base_pose",
        "give one orientation",
    ),
    "home_wrong_length": (
        lambda r: r["robot"].update(home_rad=[0, 0]),
        "robot.home_rad",
        "expected 6 values",
    ),
    "negative_size": (
        lambda r: r["stations"][1].update(size_m=[0.2, -0.2, 0.03]),
        "stations.1.size_m",
        "positive",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CELLS))
def test_bad_cell_yaml_names_file_and_key(tmp_path: Path, case: str) -> None:
    edit, key, reason = BAD_CELLS[case]
    path = _write_variant_of_default(tmp_path, edit)
    with pytest.raises(ConfigError) as info:
        load_cell(path)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    assert key in msg and reason in msg, msg
    assert "\n" not in msg


def test_inverted_joint_limits_are_rejected(tmp_path: Path) -> None:
    jl = yaml.safe_load((CELLS_DIR.parent / "robots/ur5e/joint_limits.yaml").read_text())
    jl["joint_limits"]["elbow_joint"].update(has_position_limits=True, min_position=1.0, max_position=-1.0)
    jl_path = tmp_path / "joint_limits.yaml"
    jl_path.write_text(yaml.safe_dump(jl))
    path = _write_variant_of_default(tmp_path, lambda r: r["robot"].update(joint_limits=str(jl_path)))
    with pytest.raises(
        ConfigError, match=r"joint_limits\.elbow_joint: min_position 1.0 is not below max_position -1.0"
    ):
        load_cell(path)


def test_inverted_urdf_limits_are_rejected(tmp_path: Path) -> None:
    urdf = (CELLS_DIR.parent / "robots/ur5e/ur5e.urdf").read_text()
    bad = urdf.replace('lower="-3.14159" upper="3.14159"', 'lower="3.14159" upper="-3.14159"', 1)
    assert bad != urdf
    (tmp_path / "r.urdf").write_text(bad)
    path = _write_variant_of_default(tmp_path, lambda r: r["robot"].update(urdf=str(tmp_path / "r.urdf")))
    with pytest.raises(
        ConfigError, match=r"joint elbow_joint\.limit: lower 3.14159 is not below upper -3.14159"
    ):
        load_cell(path)
