"""Node parameters: strict schemas; a bad parameter stops the node before it offers anything."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from flexcell_ros.bringup import Graph, merged_params
from flexcell_ros.params import (
    DEFAULT_PARAMS_FILE,
    NODE_PARAM_MODELS,
    ParamError,
    load_params_file,
    validate_params,
)


def test_repository_params_file_is_valid_and_complete() -> None:
    params = load_params_file(DEFAULT_PARAMS_FILE)
    assert set(params) == set(NODE_PARAM_MODELS)
    for node, model in NODE_PARAM_MODELS.items():
        # every parameter of every node is spelled out in the file a person edits
        raw = __import__("yaml").safe_load(DEFAULT_PARAMS_FILE.read_text())[node]["ros__parameters"]
        assert set(raw) == set(model.model_fields), node
    assert params["sim_cell"]["real_time_factor"] == 1.0


def test_unknown_and_wrong_typed_parameters_name_the_key() -> None:
    with pytest.raises(ParamError, match=r"sim_cell\.real_time_factr: unknown parameter"):
        validate_params("sim_cell", {"real_time_factr": 2.0}, "here")
    with pytest.raises(ParamError, match=r"sim_cell\.real_time_factor: Input should be a valid number"):
        validate_params("sim_cell", {"real_time_factor": "fast"}, "here")
    with pytest.raises(
        ParamError, match=r"sim_cell\.publish_rate_hz: Input should be greater than or equal to 250"
    ):
        validate_params("sim_cell", {"publish_rate_hz": 100.0}, "here")
    with pytest.raises(
        ParamError, match=r"workflow_executor\.check_part_poses: Input should be a valid boolean"
    ):
        validate_params("workflow_executor", {"check_part_poses": 1}, "here")
    # ROS's own parameters are not ours to reject; ints are fine where floats are expected
    p = validate_params("sim_cell", {"use_sim_time": False, "real_time_factor": 3}, "here")
    assert p.real_time_factor == 3.0  # type: ignore[attr-defined]


def test_bad_params_file_and_override_fail_before_any_process(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "sim_cell:\n  ros__parameters:\n    real_time_factor: 2.0\nplanner:\n  ros__parameters: {}\n"
    )
    with pytest.raises(ParamError, match=r"p\.yaml: planner: unknown node"):
        load_params_file(bad)
    with pytest.raises(ParamError, match=r"override of cell_manager: cell_manager\.status_rate_hz"):
        merged_params(None, {"cell_manager": {"status_rate_hz": -1.0}})
    with pytest.raises(ParamError):
        Graph(overrides={"sim_cell": {"bogus": 1}}, log_dir=tmp_path)
    assert not (tmp_path / "sim_cell.log").exists()  # nothing was started


@pytest.mark.ros
def test_node_with_bad_parameter_exits_2_without_offering_topics(ros_domain_id: int) -> None:
    import rclpy

    proc = subprocess.Popen(
        [sys.executable, "-m", "flexcell_ros.sim_cell", "--ros-args", "-p", "real_time_factor:=fast"],
        stderr=subprocess.PIPE,
        text=True,
    )
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=ros_domain_id)
    seen: set[str] = set()
    try:
        node = rclpy.create_node("param_probe", context=ctx)
        while proc.poll() is None:
            seen |= {name for name, _ in node.get_topic_names_and_types()}
            time.sleep(0.02)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 2
    lines = [ln for ln in stderr.strip().splitlines() if ln]
    assert len(lines) == 1, stderr
    assert "sim_cell.real_time_factor: Input should be a valid number (got 'fast')" in lines[0]
    assert "/joint_states" not in seen and "/clock" not in seen
