"""The simulated cell for Foxglove, recorded (MCAP) or live (WebSocket): the cell in 3D, every body's pose
over time, the events.

Open ``run.mcap`` in Foxglove (a 3D panel and a Log panel) to scrub through a validation run from any angle,
which the fixed-camera storyboard and GIF cannot do; or connect Foxglove to the ``sim_cell`` node's live
server (parameter ``foxglove_port``) to watch the cell as it runs. Topics:

- ``/scene`` (foxglove.SceneUpdate, at the start and after a rebuild; the live server every 2 s too, for
  viewers that connect later): one entity per MuJoCo body, in the body's own frame
  (``frame_locked``), its geoms as cubes, cylinders, spheres and triangle meshes in their colours;
- ``/tf`` (foxglove.FrameTransforms, at every frame: 25 Hz of sim time recorded, 30 Hz wall live):
  ``world`` -> each body, from MuJoCo's body poses;
- ``/events`` (foxglove.Log): the task phases (pick, carry, place) with the task's name.

Time: the recording's wall-clock start plus the simulation time, so every message is at its sim instant.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import foxglove
import mujoco
import numpy as np
from foxglove import messages as fm
from foxglove.channels import FrameTransformsChannel, LogChannel, SceneUpdateChannel

from sim.cell_sim import CellSim

WORLD_FRAME = "world"


def body_frame(name: str) -> str:
    """The frame id of a MuJoCo body (``part:cover`` -> ``body/part:cover``)."""
    return f"body/{name}"


def _pose(pos: np.ndarray, quat_wxyz: np.ndarray) -> fm.Pose:
    w, x, y, z = (float(v) for v in quat_wxyz)
    return fm.Pose(
        position=fm.Vector3(x=float(pos[0]), y=float(pos[1]), z=float(pos[2])),
        orientation=fm.Quaternion(x=x, y=y, z=z, w=w),
    )


def _color(rgba: np.ndarray) -> fm.Color:
    r, g, b, a = (float(v) for v in rgba)
    return fm.Color(r=r, g=g, b=b, a=a)


def scene_entities(model: mujoco.MjModel, timestamp: fm.Timestamp) -> list[fm.SceneEntity]:
    """One entity per body that has visible geoms, the geoms in the body frame."""
    by_body: dict[int, list[int]] = {}
    for g in range(model.ngeom):
        if model.geom_rgba[g][3] > 0.0:
            by_body.setdefault(int(model.geom_bodyid[g]), []).append(g)
    entities = []
    for b, geoms in sorted(by_body.items()):
        name = model.body(b).name or f"body{b}"
        cubes, cylinders, spheres, triangles = [], [], [], []
        for g in geoms:
            kind, size = model.geom_type[g], model.geom_size[g]
            pose, color = _pose(model.geom_pos[g], model.geom_quat[g]), _color(model.geom_rgba[g])
            if kind == mujoco.mjtGeom.mjGEOM_BOX:
                sx, sy, sz = (2.0 * float(v) for v in size)
                cubes.append(fm.CubePrimitive(pose=pose, size=fm.Vector3(x=sx, y=sy, z=sz), color=color))
            elif kind == mujoco.mjtGeom.mjGEOM_PLANE:
                sx, sy = (2.0 * float(v) if v > 0 else 10.0 for v in size[:2])
                cubes.append(fm.CubePrimitive(pose=pose, size=fm.Vector3(x=sx, y=sy, z=0.001), color=color))
            elif kind in (mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE):
                d, h = 2.0 * float(size[0]), 2.0 * float(size[1])
                if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
                    h += d  # drawn as a cylinder over the capsule's full length
                cylinders.append(
                    fm.CylinderPrimitive(
                        pose=pose,
                        size=fm.Vector3(x=d, y=d, z=h),
                        bottom_scale=1.0,
                        top_scale=1.0,
                        color=color,
                    )
                )
            elif kind == mujoco.mjtGeom.mjGEOM_SPHERE:
                d = 2.0 * float(size[0])
                spheres.append(fm.SpherePrimitive(pose=pose, size=fm.Vector3(x=d, y=d, z=d), color=color))
            elif kind == mujoco.mjtGeom.mjGEOM_MESH:
                mid = int(model.geom_dataid[g])
                va, vn = int(model.mesh_vertadr[mid]), int(model.mesh_vertnum[mid])
                fa, fn = int(model.mesh_faceadr[mid]), int(model.mesh_facenum[mid])
                verts = model.mesh_vert[va : va + vn]
                points = [fm.Point3(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in verts]
                indices = [int(i) for i in model.mesh_face[fa : fa + fn].reshape(-1)]
                triangles.append(
                    fm.TriangleListPrimitive(pose=pose, points=points, indices=indices, color=color)
                )
        entities.append(
            fm.SceneEntity(
                timestamp=timestamp,
                frame_id=body_frame(name),
                id=name,
                frame_locked=True,
                cubes=cubes,
                cylinders=cylinders,
                spheres=spheres,
                triangles=triangles,
            )
        )
    return entities


class SceneLog:
    """Logs the cell to a foxglove ``Context``: the scene (:meth:`send_scene`), body poses and events
    (:meth:`on_frame`, usable as the ``on_frame`` hook of :func:`sim.validate.validate_workflow`).

    Stamps: the logger's wall-clock start plus the simulation time, never going back.
    """

    def __init__(self, ctx: foxglove.Context, model: mujoco.MjModel) -> None:
        self.ctx = ctx
        self.scene = SceneUpdateChannel("/scene", context=ctx)
        self.tf = FrameTransformsChannel("/tf", context=ctx)
        self.events = LogChannel("/events", context=ctx)
        self.epoch_ns = time.time_ns()
        self._last_ns = -1
        self.frames = 0
        self.set_model(model)

    def set_model(self, model: mujoco.MjModel) -> None:
        """A new model (the simulation was rebuilt): its scene goes out with the next frame."""
        self.model = model
        self.bodies = [(b, body_frame(model.body(b).name or f"body{b}")) for b in range(1, model.nbody)]
        self._scene_due = True

    def _stamp(self, sim_time_s: float) -> tuple[int, fm.Timestamp]:
        ns = max(self.epoch_ns + round(sim_time_s * 1e9), self._last_ns)
        self._last_ns = ns
        return ns, fm.Timestamp(sec=ns // 1_000_000_000, nsec=ns % 1_000_000_000)

    def send_scene(self, sim_time_s: float) -> None:
        """(Re)send every entity (also for a viewer that connected after the first one)."""
        ns, stamp = self._stamp(sim_time_s)
        self.scene.log(fm.SceneUpdate(entities=scene_entities(self.model, stamp)), log_time=ns)
        self._scene_due = False

    def on_frame(self, sim: CellSim, task: str, phase: str) -> None:
        """Log the body poses at this instant; a task phase (not a periodic ``tick``) also as an event."""
        if self._scene_due:
            self.send_scene(sim.time_s)
        ns, stamp = self._stamp(sim.time_s)
        d = sim.data
        transforms = []
        for b, frame in self.bodies:
            p, q = d.xpos[b], d.xquat[b]
            transforms.append(
                fm.FrameTransform(
                    timestamp=stamp,
                    parent_frame_id=WORLD_FRAME,
                    child_frame_id=frame,
                    translation=fm.Vector3(x=float(p[0]), y=float(p[1]), z=float(p[2])),
                    rotation=fm.Quaternion(x=float(q[1]), y=float(q[2]), z=float(q[3]), w=float(q[0])),
                )
            )
        self.tf.log(fm.FrameTransforms(transforms=transforms), log_time=ns)
        if phase != "tick":
            self.events.log(
                fm.Log(
                    timestamp=stamp, level=fm.LogLevel.Info, message=f"{task}: {phase}", name="validation"
                ),
                log_time=ns,
            )
        self.frames += 1


class McapReplayLog(SceneLog):
    """Records a run into ``path`` (written to a temporary sibling, renamed into place by :meth:`close`)."""

    def __init__(self, path: Path | str, model: mujoco.MjModel) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        ctx = foxglove.Context()
        self.writer = foxglove.open_mcap(self.tmp, allow_overwrite=True, context=ctx)
        super().__init__(ctx, model)

    def close(self, keep: bool = True) -> Path | None:
        """Finish the file; with ``keep`` rename it to ``path`` (returned), else delete it."""
        self.writer.close()
        if keep and self.frames:
            os.replace(self.tmp, self.path)
            return self.path
        self.tmp.unlink(missing_ok=True)
        return None


class LiveScene(SceneLog):
    """The cell live for Foxglove: a WebSocket server (Foxglove's protocol) on ``host:port`` (0 = any free
    port, see ``.port``); connect Foxglove to ``ws://host:port``. Stop it with :meth:`close`."""

    def __init__(
        self, model: mujoco.MjModel, port: int, host: str = "127.0.0.1", name: str = "flexcell"
    ) -> None:
        ctx = foxglove.Context()
        self.server = foxglove.start_server(name=name, host=host, port=port, context=ctx)
        self.port = int(self.server.port)
        super().__init__(ctx, model)

    def close(self) -> None:
        self.server.stop()
