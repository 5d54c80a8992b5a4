"""Operator tasks: the parts the robot cannot handle, placed by the worker next to it (hybrid cell).

A part that is infeasible for the robot (too wide or too heavy for the gripper, no grasp from above, no
collision-free motion) but whose feeder slot and target pose are known becomes a :class:`Task` with
``actor: operator``: no robot steps, a fixed time (:data:`OPERATOR_TASK_S`), and short instructions in the
order a worker follows them (why the robot does not do it, what to take from where, where to put it, which
face down and turned how). The robot goes home before each operator task, so the worker reaches into a
cell where the arm stands still.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import trimesh

from cell_config import Cell
from workflow_gen.model import Pose, Task
from workflow_gen.phases import ReasonKind

if TYPE_CHECKING:
    from workflow_gen.part_context import PartContext
    from workflow_gen.stages.context import WorkerTask

# Estimated time of one operator task: take one part from the feeder, turn it, set it in place, step back.
# A planning assumption (not measured), the same for every part; it is counted in the cycle time.
OPERATOR_TASK_S = 20.0
# Estimated time to fasten one bolt, screw or nut by hand with a wrench (a planning assumption).
FASTEN_TASK_S = 15.0
# Heavier parts are not handed to the operator either: the reference mass for lifting by hand in
# ISO 11228-1 (one person, ideal posture) is 25 kg.
OPERATOR_MAX_KG = 25.0
# Two orientations count as "the same face down" within this angle.
_SAME_FACE_DEG = 3.0

_AXES = ("X", "Y", "Z")


def size_mm(mesh: trimesh.Trimesh, T_world_part: np.ndarray) -> tuple[float, float, float]:
    """(length, width, height) in mm of the part lying at ``T_world_part``: footprint rectangle, height."""
    v = trimesh.transform_points(mesh.convex_hull.vertices, T_world_part)
    _, ext = trimesh.bounds.oriented_bounds_2D(v[:, :2])
    length, width = sorted((float(e) for e in ext), reverse=True)
    return length * 1e3, width * 1e3, float(np.ptp(v[:, 2])) * 1e3


def face_down(R_world_part: np.ndarray) -> str:
    """The face of the part (named by its CAD axis) that lies on the surface, e.g. ``"-Z (CAD bottom)"``."""
    down = R_world_part.T @ np.array([0.0, 0.0, -1.0])  # the downward direction in the part frame
    i = int(np.argmax(np.abs(down)))
    if abs(down[i]) < np.cos(np.radians(_SAME_FACE_DEG)):
        return "the face whose outward normal in the CAD model is ({:.2f}, {:.2f}, {:.2f})".format(*down)
    sign = "-" if down[i] < 0 else "+"
    name = {"-Z": " (CAD bottom)", "+Z": " (CAD top)"}.get(f"{sign}{_AXES[i]}", "")
    return f"the {sign}{_AXES[i]} face{name}"


def _same_face_down(R_a: np.ndarray, R_b: np.ndarray) -> bool:
    down = np.array([0.0, 0.0, -1.0])
    c = float(np.clip((R_a.T @ down) @ (R_b.T @ down), -1.0, 1.0))
    return bool(np.degrees(np.arccos(c)) < _SAME_FACE_DEG)


def _long_side(mesh: trimesh.Trimesh, T_frame_part: np.ndarray, frame: str) -> str:
    """How the part's long side runs in ``frame``, e.g. ``"with its long side along the kit_tray y axis"``.

    ``""`` when the footprint has no long side (round or square).
    """
    v = trimesh.transform_points(mesh.convex_hull.vertices, T_frame_part)[:, :2]
    xy = v - v.mean(axis=0)
    w, vecs = np.linalg.eigh(xy.T @ xy)
    if w[1] - w[0] < 1e-3 * max(w[1], 1e-12):
        return ""
    major = vecs[:, 1]
    ang = float(np.degrees(np.arctan2(major[1], major[0]))) % 180.0
    if min(ang, 180.0 - ang) < 5.0:
        return f"with its long side along the {frame} x axis"
    if abs(ang - 90.0) < 5.0:
        return f"with its long side along the {frame} y axis"
    return f"with its long side at {ang:.0f} deg from the {frame} x axis"


def _yaw_deg(R_frame_part: np.ndarray) -> float:
    """Turn about the vertical of a part's x axis (its y axis when x stands vertical), degrees."""
    axis = R_frame_part[:, 0] if abs(R_frame_part[2, 0]) < 0.99 else R_frame_part[:, 1]
    return float(np.degrees(np.arctan2(axis[1], axis[0])))


def _mm(v_m: float) -> str:
    s = f"{v_m * 1e3:.0f}"
    return "0" if s == "-0" else s


def _where(pp: PartContext, T_frame_part: np.ndarray, frame: str) -> str:
    """Where the part goes, in words a worker can follow (positions: centre of its footprint, its bottom)."""
    if "/" in pp.target_label:
        station, slot = pp.target_label.split("/", 1)
        return f"into slot {slot} of the {station} ({pp.target_label})"
    v = trimesh.transform_points(pp.geom.mesh.convex_hull.vertices, T_frame_part)
    lo, hi = v.min(axis=0), v.max(axis=0)
    x, y = _mm((lo[0] + hi[0]) / 2), _mm((lo[1] + hi[1]) / 2)
    if pp.target_label == "pose":
        return (
            f"with the centre of its footprint at x {x} mm, y {y} mm and its bottom at z {_mm(lo[2])} mm "
            f"in the {frame} frame"
        )
    on = f", on top of {', '.join(pp.supports)}" if pp.supports else ""
    return (
        f"onto the {pp.target_label} at its place in the assembly (centre of its footprint at x {x} mm, "
        f"y {y} mm "
        f"from the {pp.target_label} centre, its bottom {_mm(lo[2])} mm above the {pp.target_label}{on})"
    )


def instructions(pp: PartContext, reason: str, cell: Cell, robot_parked: bool) -> list[str]:
    """What the worker does, in order (short sentences; sizes in mm, angles in degrees)."""
    assert pp.T_world_target is not None
    g = pp.geom
    frame = pp.target_station or "world"
    T_world_frame = cell.T_world_station(pp.target_station) if pp.target_station else np.eye(4)
    T_frame_part = np.linalg.inv(T_world_frame) @ pp.T_world_target
    length, width, height = size_mm(g.mesh, pp.T_world_target)
    R_target = pp.T_world_target[:3, :3]
    yaw = _yaw_deg(T_frame_part[:3, :3])
    if pp.T_world_start is None:
        take = (
            f"Take {g.name} ({length:.0f} x {width:.0f} x {height:.0f} mm, {g.mass_kg:.2f} kg) from the parts "
            "supply: it has no place in the cell's feeding stations, so it is handed to the cell."
        )
        turn = "as it stands in the product"
    else:
        take = (
            f"Take {g.name} ({length:.0f} x {width:.0f} x {height:.0f} mm, {g.mass_kg:.2f} kg) "
            f"from {pp.source_slot.split('/', 1)[-1]} of the {pp.source_slot.split('/', 1)[0]} "
            f"({pp.source_slot})."
        )
        if _same_face_down(pp.T_world_start[:3, :3], R_target):
            turn = "the same face down as it lies in the feeder (do not turn it over)"
        else:
            turn = f"turned over: in the feeder it lies on {face_down(pp.T_world_start[:3, :3])}"
    side = _long_side(g.mesh, T_frame_part, frame)
    d = pp.insert_dir
    if d[2] < -0.9:
        way = "from above"
    elif d[2] > 0.9:
        way = "from below (reach under the product)"
    else:
        way = f"sideways, pushing it along ({d[0]:.2f}, {d[1]:.2f}, {d[2]:.2f}) in the world frame"
    steps = [
        f"The robot does not handle {g.name}: {reason}."
        + (" The robot waits at home while you work." if robot_parked else ""),
        take,
        f"Put it {_where(pp, T_frame_part, frame)}, bringing it in {way}.",
        f"Set it with {face_down(R_target)} facing down, {turn}.",
        f"Turn it {side} (yaw {yaw:.0f} deg about the vertical in the {frame} frame, as in the target pose)."
        if side
        else f"Its footprint has no long side: turn it so that its sides, if any, run along the {frame} "
        "x and y axes.",
        "Let it rest fully in place, then step back out of the robot's reach.",
    ]
    return steps


def operator_task(pp: PartContext, worker: WorkerTask, task_id: str, cell: Cell, robot_parked: bool) -> Task:
    """The worker's task of a part the robot does not do (its target known; its feeder place if any)."""
    assert pp.T_world_target is not None
    start = pp.T_world_start if pp.T_world_start is not None else pp.T_world_target
    source = pp.source_slot or "parts supply (handed to the cell)"
    return Task(
        id=task_id,
        actor="operator",
        part=pp.name,
        kind="place_by_hand" if worker.kind == "place_by_hand" else "hand_to_cell",
        reason_kind=worker.reason_kind,
        insert_dir=tuple(round(float(v), 6) for v in pp.insert_dir),  # type: ignore[arg-type]
        description=(
            f"by the worker: take {pp.name} from {source}, place it at {pp.target_label} "
            f"(the robot cannot: {worker.reason})"
        ),
        source=source,
        target=pp.target_label,
        grasp=None,
        T_world_part_pick=Pose.from_matrix(start),
        T_world_part_place=Pose.from_matrix(pp.T_world_target),
        steps=[],
        duration_s=OPERATOR_TASK_S,
        instructions=instructions(pp, worker.reason, cell, robot_parked),
        tolerance_mm=pp.tolerance[0],
        tolerance_deg=pp.tolerance[1],
        pictures=[f"report/{pp.name}.png"],
    )


def fastening_task(
    pp: PartContext, task_id: str, cell: Cell, robot_parked: bool, tool: str, torque_nm: float | None
) -> Task:
    """The worker fastens a placed fastener (the cell has no powered screwdriver); the part does not move."""
    assert pp.T_world_target is not None
    mate = pp.fastened_with
    what = {
        "nut": f"Tighten nut {pp.name} on {mate}" if mate else f"Tighten nut {pp.name}",
        "bolt": f"Tighten bolt {pp.name}",
        "screw": f"Drive screw {pp.name} home",
    }.get(pp.fastener or "", f"Fasten {pp.name}")
    d = pp.insert_dir
    side = "from below" if d[2] > 0.9 else ("from above" if d[2] < -0.9 else "from the side")
    torque = (
        f" to {torque_nm:g} N m" if torque_nm else " to the torque of the drawing (not given in the variant)"
    )
    here = Pose.from_matrix(pp.T_world_target)
    return Task(
        id=task_id,
        actor="operator",
        part=pp.name,
        kind="fasten",
        reason_kind=ReasonKind.FASTENING,
        insert_dir=tuple(round(float(v), 6) for v in d),  # type: ignore[arg-type]
        description=f"by the worker: fasten {pp.name}" + (f" on {mate}" if mate else "") + f" with a {tool}",
        source=pp.target_label,
        target=pp.target_label,
        T_world_part_pick=here,
        T_world_part_place=here,
        duration_s=FASTEN_TASK_S,
        tolerance_mm=pp.tolerance[0],
        tolerance_deg=pp.tolerance[1],
        instructions=[
            "The cell has no powered screwdriver: fastening is a worker's task."
            + (" The robot waits at home while you work." if robot_parked else ""),
            f"{what}{torque}, working {side}, with a {tool}.",
            "Check that it sits fully home, then step back out of the robot's reach.",
        ],
        pictures=[f"report/{pp.name}.png"],
    )
