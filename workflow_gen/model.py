"""The Workflow: what the generator writes and what the simulator and the ROS executor run.

On disk, an output directory (default ``build/<variant>/``) holds:

``workflow.yaml``       human-readable, versioned (:data:`SCHEMA_VERSION`): parts, tasks with their
                        steps, infeasible parts with reasons, estimated cycle time.
``trajectories.npz``    the planned joint trajectories, keyed by ``MotionStep.trajectory``
                        (arrays ``<key>/t_s``, ``<key>/q``, ``<key>/qd``, ``<key>/qdd``).
``parts/<name>.stl``    each part's mesh in metres, in the part frame used by every pose below.

All poses are ``T_world_*`` in the cell's world frame unless the name says otherwise.
Writes are atomic (temporary files renamed into place), so a failed run never leaves a
half-written workflow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.spatial.transform import Rotation

from motion.trajectory import JointTrajectory
from workflow_gen.phases import Phase, ReasonKind, phase_of_step_name

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pose(_Strict):
    """A rigid pose: ``xyz_m`` and a unit quaternion ``quat_xyzw``."""

    xyz_m: tuple[float, float, float]
    quat_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    @classmethod
    def from_matrix(cls, T: np.ndarray) -> Pose:
        q = Rotation.from_matrix(np.asarray(T)[:3, :3]).as_quat()
        return cls(
            xyz_m=tuple(round(float(v), 9) for v in T[:3, 3]),  # type: ignore[arg-type]
            quat_xyzw=tuple(round(float(v), 9) for v in q),  # type: ignore[arg-type]
        )

    def matrix(self) -> np.ndarray:
        """``(4, 4) float`` homogeneous transform."""
        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat(self.quat_xyzw).as_matrix()
        T[:3, 3] = self.xyz_m
        return T


class Grasp(_Strict):
    """A parallel-jaw grasp of a part: the TCP pose in the part frame and the jaw widths."""

    id: str
    T_part_tcp: Pose
    pregrasp_width_m: float = Field(gt=0, description="jaw opening while approaching")
    contact_width_m: float = Field(ge=0, description="part width between the pads at the grasp")
    force_n: float = Field(gt=0)
    score: float


class PartInfo(_Strict):
    """A part of the variant as planned: geometry reference, mass properties, start and target."""

    name: str
    cad: str = Field(description="source CAD file, relative to the variant directory")
    mesh: str = Field(description="STL in the output directory (metres, part frame)")
    mass_kg: float = Field(gt=0)
    com_m: tuple[float, float, float]
    inertia_kg_m2: tuple[float, float, float, float, float, float] = Field(
        description="ixx, iyy, izz, ixy, ixz, iyz about the centre of mass, in the part frame"
    )
    source: str = Field(description="station/slot the part is picked from")
    target: str = Field(description="station/slot or station name it is placed at")
    T_world_start: Pose = Field(description="resting pose in the feeder (stable pose)")
    T_world_target: Pose
    fastener: Literal["bolt", "screw", "nut", "washer"] | None = Field(
        default=None, description="what kind of fastener the part is (None: not a fastener)"
    )
    fastened_with: str | None = Field(default=None, description="the bolt / shaft a nut or washer goes on")


class MotionStep(_Strict):
    """One step of a task: a robot trajectory or a gripper command.

    ``attach`` / ``detach`` name the part that the gripper holds from the end of this step on / releases.
    ``phase`` is what the step does (:class:`workflow_gen.phases.Phase`); files written before it existed
    get it from the step name when read.
    """

    name: str
    kind: Literal["trajectory", "gripper"]
    phase: Phase
    trajectory: str | None = Field(default=None, description="key in trajectories.npz")
    duration_s: float = Field(ge=0)
    gripper_width_m: float | None = None
    gripper_force_n: float | None = None
    attach: str | None = None
    detach: str | None = None
    contact_width_m: float | None = Field(
        default=None, description="attach steps: the part's width between the pads (the held-part check)"
    )

    @model_validator(mode="before")
    @classmethod
    def _phase_from_name(cls, data: object) -> object:
        if isinstance(data, dict) and "phase" not in data and isinstance(data.get("name"), str):
            try:
                return {**data, "phase": phase_of_step_name(data["name"])}
            except ValueError:
                return data  # pydantic then says that 'phase' is missing
        return data


TaskKind = Literal["pick_place", "regrasp", "place_by_hand", "hand_to_cell", "fasten"]


class Task(_Strict):
    """One task of the workflow, the robot's or a person's (``actor: operator``).

    ``kind``: ``pick_place`` (robot), ``regrasp`` (robot, puts the part down once to take it another way),
    ``place_by_hand`` (a person places a part from the feeder), ``hand_to_cell`` (a person places a part
    that has no feeder place), ``fasten`` (a person fastens placed fasteners). ``reason_kind`` says why a
    person does it; ``insert_dir`` is the direction the part moves while it goes in (world frame).
    """

    id: str
    actor: Literal["robot", "operator"]
    part: str
    kind: TaskKind = "pick_place"
    reason_kind: ReasonKind | None = None
    insert_dir: tuple[float, float, float] | None = None
    description: str
    source: str
    target: str
    grasp: Grasp | None = None
    T_world_part_pick: Pose
    T_world_part_place: Pose
    steps: list[MotionStep] = []
    duration_s: float = 0.0
    instructions: list[str] = Field(default_factory=list, description="operator tasks: what to do, in order")
    tolerance_mm: float = Field(
        default=2.0, gt=0, description="how far the placed part may rest from its target"
    )
    tolerance_deg: float = Field(default=2.0, gt=0, description="the same for its orientation")
    pictures: list[str] = Field(default_factory=list, description="report images, relative to the output dir")


class Infeasible(_Strict):
    part: str
    reason: str
    kind: ReasonKind | None = None


class Workflow(_Strict):
    schema_version: Literal[1] = 1
    variant: str
    variant_dir: str
    kind: Literal["assembly", "kit"]
    cell: str = Field(description="cell YAML the workflow was planned for")
    created_utc: str
    seed: int = 0
    joint_names: list[str]
    home_q: list[float]
    parts: list[PartInfo]
    tasks: list[Task]
    infeasible: list[Infeasible] = []
    cycle_time_s: float = 0.0
    plan_time_s: float = 0.0
    inputs_sha256: str = Field(
        default="", description="fingerprint of what it was planned from (workflow_gen.fingerprint)"
    )

    def part(self, name: str) -> PartInfo:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(name)


class WorkflowError(ValueError):
    """A workflow on disk is missing or invalid; the message names the file and key."""


def load_workflow(path: Path | str) -> tuple[Workflow, dict[str, JointTrajectory]]:
    """Read ``workflow.yaml`` and its ``trajectories.npz`` from the same directory."""
    path = Path(path)
    if path.is_dir():
        path = path / "workflow.yaml"
    if not path.is_file():
        raise WorkflowError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text())
        wf = Workflow.model_validate(raw)
    except yaml.YAMLError as e:
        raise WorkflowError(f"{path}: not valid YAML ({e})") from None
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise WorkflowError(f"{path}: {key}: {first['msg']}") from None
    trajs: dict[str, JointTrajectory] = {}
    npz = path.parent / "trajectories.npz"
    keys = {s.trajectory for t in wf.tasks for s in t.steps if s.trajectory}
    if keys:
        if not npz.is_file():
            raise WorkflowError(f"{npz}: file not found (workflow {path} references trajectories)")
        with np.load(npz) as data:
            for k in sorted(keys):
                try:
                    arrays = {f: data[f"{k}/{f}"] for f in ("t_s", "q", "qd", "qdd")}
                except KeyError:
                    raise WorkflowError(f"{npz}: trajectory {k!r} missing") from None
                trajs[k] = JointTrajectory.from_arrays(wf.joint_names, arrays)
    return wf, trajs


def _atomic_write(path: Path, write: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))  # type: ignore[operator]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_workflow(out_dir: Path | str, wf: Workflow, trajectories: dict[str, JointTrajectory]) -> Path:
    """Write ``trajectories.npz`` then ``workflow.yaml`` atomically; returns the workflow path.

    The YAML is renamed into place last, so a reader never sees a workflow whose trajectories are missing.
    """
    out = Path(out_dir)
    arrays: dict[str, np.ndarray] = {}
    for k, tr in trajectories.items():
        for f, a in tr.to_arrays().items():
            arrays[f"{k}/{f}"] = a

    def write_npz(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    def write_yaml(p: Path) -> None:
        p.write_text(
            "# flexcell workflow (schema_version 1); trajectories in trajectories.npz beside this file.\n"
            + yaml.safe_dump(wf.model_dump(mode="json"), sort_keys=False, width=110)
        )

    _atomic_write(out / "trajectories.npz", write_npz)
    _atomic_write(out / "workflow.yaml", write_yaml)
    return out / "workflow.yaml"
