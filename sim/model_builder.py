"""Build the MuJoCo model of a cell with its parts.

The robot comes from :func:`cell_config.compose.cell_urdf` (MuJoCo's own URDF importer, which turns the
finger ``<mimic>`` into a joint equality), placed at ``cell.T_world_base``. Stations are static boxes whose
top-surface centre is the station frame; obstacles are static boxes, cylinders and spheres; every part is a
free body with the mass properties of its :class:`~workflow_gen.model.PartInfo` and collision geometry from its
STL: MuJoCo collides with the convex hull of a mesh, so a non-convex part is split into convex pieces by
:func:`motion.convex.convex_pieces` (the same pieces the planner's collision world uses), cached by mesh
hash under ``build/cache/vhacd``.

Contact set-up that holds a grasped part (ENVIRONMENT.md "Simulation", re-measured here): elliptic friction
cones, ``impratio`` 10, a stiff ``solref`` on finger pads and parts, friction of the pads from
``cell.spec.gripper.finger.friction``, and finger geoms with a higher ``priority`` so their friction, not the
part's, governs a grasp. MuJoCo's soft contacts let a held part creep along the pads at a rate set by the
contact time constant (measured on the sensor_kit variant, 3 s carries: 0.02 s -> 13-19 mm, 0.005 s -> up
to 3.9 mm, 0.004 s -> at most 2.5 mm); 0.004 s = 2 x timestep is the stiffest MuJoCo accepts at 2 ms steps.
``impratio`` 30/100, ``noslip_iterations`` and condim 6 made no measurable difference.

Collision filtering (contype/conaffinity bits): robot geoms never collide with each other (the planner
checks self-collision, and MuJoCo would otherwise fight overlapping link capsules), but collide with the
static world and with parts; parts collide with everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from cell_config import Cell
from cell_config.compose import FINGER_JOINT, FINGER_MIMIC_JOINT, TCP_LINK, cell_urdf
from motion.convex import CACHE_DIR as CACHE_DIR  # re-exported: the pieces' cache lives with them
from motion.convex import convex_pieces
from workflow_gen.model import PartInfo

TIMESTEP_S = 0.002
GRIPPER_BODIES = ("gripper_base", "finger_left", "finger_right")
FINGER_BODIES = ("finger_left", "finger_right")
# Contact bit masks: robot (1) collides with world and parts; world (2) with robot and parts; parts all.
_ROBOT_BITS = (1, 0)
_WORLD_BITS = (2, 1)
_PART_BITS = (2, 3)
# Stiff contacts on pads and parts so a grasp does not creep: time constant 2 x timestep (see above).
GRASP_SOLREF = (0.004, 1.0)
PART_FRICTION = (0.6, 0.005, 0.0001)
# Reflected rotor inertia of the arm joints (kg m^2) and fingers (kg): what real gearboxes add; it also
# keeps the light wrist and finger joints well conditioned for stiff position control at 2 ms steps.
ARM_ARMATURE = 0.1
FINGER_ARMATURE = 0.3


@dataclass
class SimFault:
    """A fault injected on purpose to prove the validation catches it.

    Attributes
    ----------
    kind : ``low_friction`` (pads and parts at ``friction``), ``part_offset`` (every part shifted by
        ``offset_m`` in its feeder, along world x), or ``obstacle`` (a box of ``size_m`` added at
        ``xyz_m``, default: in the carry path of the first part)
    """

    kind: str
    friction: float = 0.001
    offset_m: float = 0.015
    xyz_m: tuple[float, float, float] | None = None
    size_m: tuple[float, float, float] = (0.08, 0.08, 1.0)

    KINDS = ("low_friction", "part_offset", "obstacle")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; choose one of {', '.join(self.KINDS)}")


@dataclass
class CellModel:
    """The compiled model and the indices the controllers and checks need."""

    model: mujoco.MjModel
    arm_joints: list[str]
    arm_qpos: np.ndarray  # (n,) int, qpos addresses of the arm joints
    arm_dof: np.ndarray  # (n,) int, dof addresses of the arm joints
    arm_actuators: np.ndarray  # (n,) int
    gripper_actuator: int
    finger_qpos: np.ndarray  # (2,) int, left and right finger qpos addresses
    finger_dof: np.ndarray  # (2,) int
    tcp_body: int
    robot_bodies: set[int]
    gripper_bodies: set[int]
    part_bodies: dict[str, int]  # part name -> body id
    part_qpos: dict[str, int]  # part name -> qpos address of its free joint
    geom_owner: list[str] = field(default_factory=list)  # geom id -> robot body / station / obstacle / part


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    x, y, z, w = Rotation.from_matrix(R).as_quat()
    return np.array([w, x, y, z])


def _add_box(body: mujoco.MjsBody, name: str, T: np.ndarray, size_m: tuple[float, float, float]) -> None:
    g = body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_BOX)
    g.size = 0.5 * np.asarray(size_m, dtype=float)
    g.pos = T[:3, 3]
    g.quat = _quat_wxyz(T[:3, :3])


def _static_geoms(spec: mujoco.MjSpec, cell: Cell, fault: SimFault | None) -> None:
    world = spec.worldbody
    for st in cell.spec.stations:
        T = cell.T_world_station(st.name).copy()
        # The station frame is the top-surface centre; the box centre is half its height below.
        T[:3, 3] -= T[:3, 2] * st.size_m[2] / 2
        _add_box(world, f"station:{st.name}", T, st.size_m)
    for ob in cell.spec.obstacles:
        T = cell.resolve_pose(ob.pose)
        if ob.shape == "box":
            assert ob.size_m is not None
            _add_box(world, f"obstacle:{ob.name}", T, ob.size_m)
            continue
        g = world.add_geom(name=f"obstacle:{ob.name}")
        g.pos, g.quat = T[:3, 3], _quat_wxyz(T[:3, :3])
        if ob.shape == "cylinder":
            assert ob.radius_m is not None and ob.length_m is not None
            g.type = mujoco.mjtGeom.mjGEOM_CYLINDER
            g.size = [ob.radius_m, ob.length_m / 2, 0]
        else:
            assert ob.radius_m is not None
            g.type = mujoco.mjtGeom.mjGEOM_SPHERE
            g.size = [ob.radius_m, 0, 0]
    if fault is not None and fault.kind == "obstacle":
        assert fault.xyz_m is not None, "obstacle fault needs xyz_m (CellSim fills it in)"
        T = np.eye(4)
        T[:3, 3] = fault.xyz_m
        _add_box(world, "obstacle:fault_obstacle", T, fault.size_m)
    for g in world.geoms:
        g.contype, g.conaffinity = _WORLD_BITS
        g.rgba = [0.55, 0.6, 0.7, 1] if g.name.startswith("station:") else [0.75, 0.75, 0.72, 1]
        if g.name == "obstacle:table":
            g.rgba = [0.45, 0.4, 0.35, 1]
        if g.name.startswith("obstacle:fence"):
            g.rgba = [0.9, 0.8, 0.2, 0.08]  # see-through: the cell camera usually looks over a fence
        if g.name == "obstacle:fault_obstacle":
            g.rgba = [0.9, 0.1, 0.1, 1]


def _add_part(
    spec: mujoco.MjSpec,
    part: PartInfo,
    parts_dir: Path,
    friction: tuple[float, float, float],
    T_world_part: np.ndarray,
) -> None:
    mesh_path = parts_dir / part.mesh
    if not mesh_path.is_file():
        # The workflow may name the mesh relative to its own directory ("parts/x.stl") or bare.
        alt = parts_dir / Path(part.mesh).name
        if not alt.is_file():
            raise FileNotFoundError(f"{mesh_path}: part {part.name!r} mesh not found")
        mesh_path = alt
    loaded = trimesh.load(mesh_path, force="mesh")
    assert isinstance(loaded, trimesh.Trimesh)
    body = spec.worldbody.add_body(name=f"part:{part.name}")
    body.pos = T_world_part[:3, 3]
    body.quat = _quat_wxyz(T_world_part[:3, :3])
    body.add_freejoint(name=f"part:{part.name}")
    body.explicitinertial = True
    body.mass = part.mass_kg
    body.ipos = np.asarray(part.com_m)
    ixx, iyy, izz, ixy, ixz, iyz = part.inertia_kg_m2
    body.fullinertia = [ixx, iyy, izz, ixy, ixz, iyz]
    for i, piece in enumerate(convex_pieces(loaded)):
        mname = f"part:{part.name}:{i}"
        spec.add_mesh(
            name=mname, uservert=piece.vertices.ravel().tolist(), userface=piece.faces.ravel().tolist()
        )
        g = body.add_geom(name=f"part:{part.name}:{i}", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=mname)
        g.contype, g.conaffinity = _PART_BITS
        g.friction = friction
        g.solref = GRASP_SOLREF
        g.condim = 4
        g.rgba = [0.85, 0.45, 0.15, 1]


def build_model(
    cell: Cell, parts: list[PartInfo], parts_dir: Path, fault: SimFault | None = None
) -> CellModel:
    """Compile the MuJoCo model of ``cell`` with ``parts`` at their ``T_world_start``.

    Parameters
    ----------
    cell : the cell (robot, gripper, stations, obstacles)
    parts : parts of the variant; meshes are read from ``parts_dir / part.mesh``
    parts_dir : directory the part mesh paths are relative to (the workflow directory)
    fault : optional fault injected on purpose (low friction, part offset, extra obstacle)
    """
    spec = mujoco.MjSpec.from_string(cell_urdf(cell))
    spec.modelname = cell.name
    # Keep tool0 / gripper_base / tcp as bodies (the URDF importer fuses fixed joints by default).
    spec.compiler.fusestatic = False
    spec.option.timestep = TIMESTEP_S
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    # Parts resting in feeders and trays sleep (their islands skip collision and solving) until touched.
    spec.option.enableflags |= mujoco.mjtEnableBit.mjENBL_SLEEP
    spec.visual.global_.offwidth = 1280
    spec.visual.global_.offheight = 960
    spec.stat.extent = 2.0
    spec.stat.center = [0.3, 0.0, 0.3]

    g_spec = cell.spec.gripper
    pad_mu = g_spec.finger.friction if fault is None or fault.kind != "low_friction" else fault.friction
    part_mu = PART_FRICTION[0] if fault is None or fault.kind != "low_friction" else fault.friction

    base = spec.body(cell.spec.robot.base_link)
    base.pos = cell.T_world_base[:3, 3]
    base.quat = _quat_wxyz(cell.T_world_base[:3, :3])
    robot_body_names = [b.name for b in spec.bodies if b.name != "world"]
    for g in spec.geoms:
        g.contype, g.conaffinity = _ROBOT_BITS
        g.rgba = [0.62, 0.66, 0.72, 1]
        if g.parent.name in FINGER_BODIES:
            g.friction = [pad_mu, 0.01, 0.0001]
            g.solref = GRASP_SOLREF
            g.condim = 4
            g.priority = 1
            g.rgba = [0.1, 0.1, 0.1, 1]
        elif g.parent.name == "gripper_base":
            g.rgba = [0.2, 0.4, 0.8, 1]
    # The base and first link stand on the table: their contact with the world is the mounting.
    first_link = spec.joint(cell.joint_names[0]).parent.name
    for b in (cell.spec.robot.base_link, first_link):
        spec.add_exclude(bodyname1="world", bodyname2=b)

    _static_geoms(spec, cell, fault)
    for p in parts:
        T = p.T_world_start.matrix()
        if fault is not None and fault.kind == "part_offset":
            T = T.copy()
            T[0, 3] += fault.offset_m
        _add_part(spec, p, parts_dir, (part_mu, 0.005, 0.0001), T)
        # Fastening (a nut threaded on, a bolt tightened) holds the part where it is: a weld to the world,
        # off until CellSim.fasten switches it on (the product stands still on its fixture).
        weld = spec.add_equality(name=f"fasten:{p.name}")
        weld.type = mujoco.mjtEq.mjEQ_WELD
        weld.objtype = mujoco.mjtObj.mjOBJ_BODY
        weld.name1, weld.name2 = "world", f"part:{p.name}"
        weld.solref = [0.004, 1.0]  # as stiff as the 2 ms step allows: a tightened nut does not sag
        weld.active = False

    for j in cell.joint_names:
        js = spec.joint(j)
        js.armature = ARM_ARMATURE
        js.damping = [0.5, 0, 0] if np.ndim(js.damping) else 0.5
    for j in (FINGER_JOINT, FINGER_MIMIC_JOINT):
        js = spec.joint(j)
        js.armature = FINGER_ARMATURE
        js.damping = [2.0, 0, 0] if np.ndim(js.damping) else 2.0

    # Arm: position servos (stiffness kp, implicit damping kv) with the URDF effort limits; gains are set
    # per joint by the controller from the arm's inertia (sim/controllers.py).
    for j in cell.joint_names:
        a = spec.add_actuator(name=f"act:{j}", target=j, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        a.set_to_position(kp=1000.0, kv=100.0)
        effort = _urdf_effort(cell, j)
        a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        a.forcerange = [-effort, effort]
    # Gripper: one servo on the opening (tendon = left + right pad distance), force-limited so each pad
    # presses with at most gripper.force_n; stiff enough to reach that force ~3 mm into a part.
    tendon = spec.add_tendon(name="gripper_opening")
    tendon.wrap_joint(FINGER_JOINT, 1.0)
    tendon.wrap_joint(FINGER_MIMIC_JOINT, 1.0)
    ga = spec.add_actuator(name="act:gripper", target="gripper_opening", trntype=mujoco.mjtTrn.mjTRN_TENDON)
    kp_grip = g_spec.force_n / 0.003
    m_eff = 2 * (0.1 * g_spec.mass_kg + FINGER_ARMATURE)  # both fingers + rotor, as seen by the tendon
    ga.set_to_position(kp=kp_grip, kv=1.4 * float(np.sqrt(kp_grip * m_eff)))
    ga.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    ga.forcerange = [-g_spec.force_n, g_spec.force_n]
    ga.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    ga.ctrlrange = [g_spec.min_opening_m, g_spec.stroke_m]

    spec.worldbody.add_light(pos=[0.3, 0.0, 2.5], dir=[0, 0, -1], diffuse=[0.6, 0.6, 0.6], castshadow=False)
    sky = spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX)
    sky.builtin = mujoco.mjtBuiltin.mjBUILTIN_GRADIENT
    sky.rgb1, sky.rgb2 = [0.75, 0.82, 0.9], [0.35, 0.4, 0.48]
    sky.width = sky.height = 64
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.5, 0.5, 0.5]
    if cell.spec.camera is not None:
        cam = cell.spec.camera
        T_cam = cell.resolve_pose(cam.pose)
        # Cell camera convention: x forward, z up (ROS body frame); MuJoCo cameras look along -z, y up.
        R_body_mjcam = np.array([[0, 0, -1], [-1, 0, 0], [0, 1, 0]], dtype=float)
        c = spec.worldbody.add_camera(name=cam.name)
        c.pos = T_cam[:3, 3]
        c.quat = _quat_wxyz(T_cam[:3, :3] @ R_body_mjcam)
        c.fovy = cam.fov_deg * cam.height_px / cam.width_px if cam.width_px > cam.height_px else cam.fov_deg

    model = spec.compile()
    return _index(model, cell, parts, robot_body_names)


def _urdf_effort(cell: Cell, joint: str) -> float:
    import xml.etree.ElementTree as ET

    root = ET.parse(cell.urdf_path).getroot()
    for j in root.findall("joint"):
        if j.get("name") == joint:
            lim = j.find("limit")
            if lim is not None and lim.get("effort"):
                return float(lim.get("effort", "100"))
    return 100.0


def _index(
    model: mujoco.MjModel, cell: Cell, parts: list[PartInfo], robot_body_names: list[str]
) -> CellModel:
    def jid(name: str) -> int:
        return int(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name))

    def bid(name: str) -> int:
        i = int(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name))
        if i < 0:
            raise KeyError(f"body {name!r} not in the compiled model")
        return i

    arm_j = [jid(j) for j in cell.joint_names]
    fingers = [jid(FINGER_JOINT), jid(FINGER_MIMIC_JOINT)]
    robot_bodies = {bid(b) for b in robot_body_names}
    owner: list[str] = []
    for g in range(model.ngeom):
        b = int(model.geom_bodyid[g])
        if b in robot_bodies:
            owner.append(f"robot:{mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b)}")
        else:
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or ""
            owner.append(name.rsplit(":", 1)[0] if name.startswith("part:") else name)
    return CellModel(
        model=model,
        arm_joints=list(cell.joint_names),
        arm_qpos=np.array([model.jnt_qposadr[j] for j in arm_j]),
        arm_dof=np.array([model.jnt_dofadr[j] for j in arm_j]),
        arm_actuators=np.array(
            [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"act:{j}") for j in cell.joint_names]
        ),
        gripper_actuator=int(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, "act:gripper")),
        finger_qpos=np.array([model.jnt_qposadr[j] for j in fingers]),
        finger_dof=np.array([model.jnt_dofadr[j] for j in fingers]),
        tcp_body=bid(TCP_LINK),
        robot_bodies=robot_bodies,
        gripper_bodies={bid(b) for b in GRIPPER_BODIES},
        part_bodies={p.name: bid(f"part:{p.name}") for p in parts},
        part_qpos={p.name: int(model.jnt_qposadr[jid(f"part:{p.name}")]) for p in parts},
        geom_owner=owner,
    )
