"""The task-planning stages against a fake planner: phases, directions, backtracking, containers, regrasp.

The fake planner's configuration is the tool pose itself (position + rotation vector), so every stage's
geometry can be checked exactly; straight moves through a "wall" box fail unless the wall is allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motion.result import PlanResult
from motion.trajectory import JointTrajectory
from workflow_gen.grasps import GraspSet
from workflow_gen.phases import Phase, ReasonKind
from workflow_gen.stages import (
    Alternatives,
    Failure,
    Fallbacks,
    Leg,
    Scene,
    Solution,
    Stage,
    State,
    first_solution,
    pick_place,
    regrasp,
)
from workflow_gen.stages.pick_and_place import plan_leg_chain

NAMES = [f"j{i}" for i in range(6)]


def pose(xyz, rotvec=(0.0, 0.0, 0.0)) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    T[:3, 3] = xyz
    return T


class FakePlanner:
    """q = (x, y, z, rx, ry, rz) of the tool; every joint motion succeeds; straight lines avoid ``walls``."""

    joint_names = NAMES

    def __init__(self, walls: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.walls = walls or {}
        self.objects: dict[str, np.ndarray] = {}
        self.attached: dict[str, np.ndarray] = {}
        self.opening = 0.0
        self.calls: list[str] = []

    @property
    def home(self) -> np.ndarray:
        return np.array([0.3, 0.0, 0.5, np.pi, 0.0, 0.0])

    def fk(self, q: np.ndarray) -> np.ndarray:
        return pose(q[:3], q[3:])

    def ik(self, T: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray | None:
        return np.concatenate([T[:3, 3], Rotation.from_matrix(T[:3, :3]).as_rotvec()])

    def add_object(self, name, mesh, T) -> None:
        self.objects[name] = np.array(T)

    def set_object_pose(self, name: str, T: np.ndarray) -> None:
        assert name not in self.attached, "set_object_pose on an attached object"
        self.objects[name] = np.array(T)

    def attach_object(self, name: str, q: np.ndarray) -> None:
        self.attached[name] = np.linalg.solve(self.fk(q), self.objects[name])
        self.calls.append(f"attach {name}")

    def detach_object(self, name: str, q: np.ndarray) -> None:
        self.objects[name] = self.fk(q) @ self.attached.pop(name)
        self.calls.append(f"detach {name}")

    def set_gripper_opening(self, width_m: float) -> None:
        self.opening = width_m

    def _line(self, a: np.ndarray, b: np.ndarray) -> JointTrajectory:
        s = np.linspace(0.0, 1.0, 11)[:, None]
        return JointTrajectory(NAMES, np.linspace(0.0, 1.0, 11), a[None] + s * (b - a)[None])

    def plan_to_joint(self, q0: np.ndarray, q1: np.ndarray, profile: str = "default") -> PlanResult:
        return PlanResult(True, self._line(q0, q1), "SUCCESS", "", 0.001, 1.0)

    def plan_to_pose(self, q0, T, profile: str = "default", reference=None) -> PlanResult:
        return self.plan_to_joint(q0, self.ik(T))

    def plan_cartesian(self, q0, T_goal, allowed_objects=(), max_step_m: float = 0.005) -> PlanResult:
        q1 = self.ik(T_goal)
        traj = self._line(q0, q1)
        for name, (lo, hi) in self.walls.items():
            if name in allowed_objects:
                continue
            inside = np.all((traj.q[:, :3] > lo) & (traj.q[:, :3] < hi), axis=1)
            if inside.any():
                return PlanResult(False, traj, "CARTESIAN_BLOCKED", f"tool hits {name}", 0.001, 0.5)
        return PlanResult(True, traj, "SUCCESS", "", 0.001, 1.0)


def grasp_set(*T_part_tcp: np.ndarray) -> GraspSet:
    n = len(T_part_tcp)
    return GraspSet(
        np.stack(T_part_tcp),
        np.full(n, 0.03),
        np.full(n, 0.05),
        np.zeros((n, 2, 3)),
        np.zeros(n),
        np.zeros(n),
        -np.arange(n, dtype=float),
        40.0,
    )


TOP = pose((0.0, 0.0, 0.02), (np.pi, 0.0, 0.0))  # tool z down onto the part's top
SIDE = pose((-0.02, 0.0, 0.01), (0.0, np.pi / 2, 0.0))  # tool z along +x, from the part's -x side


def leg(grasps: GraspSet, d=(0.0, 0.0, -1.0), T_to=None, tag: str = "", T_from=None) -> Leg:
    return Leg(
        part="p",
        T_world_from=pose((0.4, 0.3, 0.02)) if T_from is None else T_from,
        T_world_to=pose((0.5, 0.0, 0.05)) if T_to is None else T_to,
        from_station="feeder",
        to_station="fixture",
        insert_dir=np.asarray(d, float),
        grasps=grasps,
        approach_m=0.08,
        retreat_m=0.06,
        gripper_speed_m_s=0.1,
        tag=tag,
    )


def start(planner: FakePlanner, lg: Leg) -> tuple[Scene, Solution]:
    planner.add_object("p", None, lg.T_world_from)
    return Scene(planner), Solution(State(q=planner.home, opening_m=0.085, T_world_part=lg.T_world_from))


def traj_of(sol: Solution, name: str) -> JointTrajectory:
    step = next(s for s in sol.steps if s.step.name == name)
    assert step.trajectory is not None
    return step.trajectory


def test_pick_place_has_the_phases_in_order_and_ends_with_the_part_placed() -> None:
    fp = FakePlanner()
    lg = leg(grasp_set(TOP))
    scene, s0 = start(fp, lg)
    sol = first_solution(pick_place(), lg, s0, scene)
    assert isinstance(sol, Solution)
    assert [s.step.phase for s in sol.steps] == [
        Phase.OPEN,
        Phase.TRANSIT,
        Phase.APPROACH,
        Phase.PICK,
        Phase.LIFT,
        Phase.TRANSIT,
        Phase.INSERT,
        Phase.RELEASE,
        Phase.RETREAT,
    ]
    assert sol.state.T_tcp_part is None and np.allclose(sol.state.T_world_part, lg.T_world_to)
    close = next(s.step for s in sol.steps if s.step.phase == Phase.PICK)
    assert close.attach == "p" and close.contact_width_m == pytest.approx(0.03)
    assert close.gripper_width_m == pytest.approx(0.03 - 0.004)  # pressed below the part's width
    # The insertion ends at the grasp on the target and moves straight down by the approach distance.
    ins = traj_of(sol, "insert")
    assert np.allclose(fp.fk(ins.end), lg.T_world_to @ TOP, atol=1e-9)
    assert np.allclose(ins.q[-1, :3] - ins.q[0, :3], [0.0, 0.0, -0.08], atol=1e-9)
    # The lift goes straight up from the pick by the retreat distance.
    lift = traj_of(sol, "lift")
    assert np.allclose(lift.q[-1, :3] - lift.q[0, :3], [0.0, 0.0, 0.06], atol=1e-9)


def test_sideways_insertion_starts_on_the_insertion_axis() -> None:
    fp = FakePlanner()
    d = np.array([1.0, 0.0, 0.0])
    lg = leg(grasp_set(SIDE), d=d)
    scene, s0 = start(fp, lg)
    sol = first_solution(pick_place(), lg, s0, scene)
    assert isinstance(sol, Solution)
    ins = traj_of(sol, "insert")
    assert np.allclose(ins.q[-1, :3] - ins.q[0, :3], 0.08 * d, atol=1e-9)
    # The retreat backs off along the tool axis, which for this grasp is back along the insertion axis.
    ret = traj_of(sol, "retreat")
    assert np.allclose(ret.q[-1, :3] - ret.q[0, :3], -0.06 * d, atol=1e-9)


def test_a_blocked_insertion_backtracks_into_the_next_grasp() -> None:
    # A wall just beside the target's top blocks the top-down insertion, not the sideways one.
    wall = (np.array([0.47, -0.05, 0.09]), np.array([0.53, 0.05, 0.2]))
    fp = FakePlanner({"wall": wall})
    lg = leg(grasp_set(TOP, SIDE), d=(1.0, 0.0, 0.0))
    scene, s0 = start(fp, lg)
    sol = first_solution(pick_place(), lg, s0, scene)
    assert isinstance(sol, Solution)
    assert sol.grasps_used == (1,)
    # The failed branch left nothing attached: every attach has its detach.
    assert fp.calls.count("attach p") == fp.calls.count("detach p") >= 2
    assert not fp.attached
    # Allowed, the wall does not block: the first grasp is taken.
    fp2 = FakePlanner({"fixture": wall})
    scene2, s2 = start(fp2, lg)
    sol2 = first_solution(pick_place(), lg, s2, scene2)
    assert isinstance(sol2, Solution) and sol2.grasps_used == (0,)


def test_every_grasp_blocked_gives_one_typed_failure_naming_the_stage() -> None:
    wall = (np.array([0.4, -0.1, 0.0]), np.array([0.6, 0.1, 0.3]))  # around the whole target
    fp = FakePlanner({"wall": wall})
    lg = leg(grasp_set(TOP, TOP))
    scene, s0 = start(fp, lg)
    out = plan_leg_chain(pick_place("", max_tries=2), lg, s0, scene)
    assert isinstance(out, Failure)
    assert out.kind == ReasonKind.MOTION_BLOCKED and out.stage == "insert"
    assert "insertion blocked" in out.sentence and "(2x)" in out.sentence
    # The world is applied lazily: the part may still ride on the tool; putting it back detaches it.
    scene.put("p", lg.T_world_from, s0.state.q)
    assert not fp.attached and np.allclose(fp.objects["p"], lg.T_world_from)


def test_no_grasp_is_a_typed_failure() -> None:
    fp = FakePlanner()
    lg = leg(grasp_set(TOP).subset(np.array([], dtype=int)))
    scene, s0 = start(fp, lg)
    out = first_solution(pick_place(), lg, s0, scene)
    assert isinstance(out, list) and out[0].kind == ReasonKind.NO_GRASP


class _Fixed(Stage):
    """Yields the given outcomes (a test neighbour)."""

    def __init__(self, name: str, outs: list) -> None:
        super().__init__(name)
        self.outs = outs

    def expand(self, leg, sol, scene) -> Iterator:
        yield from self.outs


def test_containers() -> None:
    s = Solution(State(q=np.zeros(6), opening_m=0.0, T_world_part=np.eye(4)))
    bad = Failure(ReasonKind.UNREACHABLE, "no IK", "a")
    a, b = _Fixed("a", [bad]), _Fixed("b", [s, s])
    lg = leg(grasp_set(TOP))
    fb = list(Fallbacks("f", [a, b]).expand(lg, s, Scene(FakePlanner())))
    assert fb == [s, s]  # the first child had none: the second child's solutions, not the failure
    fb_none = list(Fallbacks("f", [a, a]).expand(lg, s, Scene(FakePlanner())))
    assert fb_none == [bad, bad]
    alt = list(Alternatives("alt", [a, b]).expand(lg, s, Scene(FakePlanner())))
    assert alt == [bad, s, s]


def test_regrasp_takes_the_part_twice_with_its_own_step_names() -> None:
    fp = FakePlanner()
    T_mid = pose((0.2, 0.3, 0.015), (np.pi / 2, 0.0, 0.0))  # lying on its side on the regrasp area
    first = leg(grasp_set(TOP), T_to=T_mid)
    second = leg(grasp_set(SIDE), T_from=T_mid, tag="_2")
    scene, s0 = start(fp, first)
    sol = first_solution(regrasp(first, second), first, s0, scene)
    assert isinstance(sol, Solution)
    names = [s.step.name for s in sol.steps]
    assert len(names) == len(set(names)) == 18
    assert names[:9] == [
        "open",
        "transit_pick",
        "approach",
        "close",
        "lift",
        "transit_place",
        "insert",
        "release",
        "retreat",
    ]
    assert all(n.endswith("_2") for n in names[9:])
    assert [s.step.phase for s in sol.steps].count(Phase.PICK) == 2
    assert sol.grasps_used == (0, 0)
    assert np.allclose(sol.state.T_world_part, second.T_world_to)
    # The second pick starts from the part where the first leg left it.
    approach2 = traj_of(sol, "approach_2")
    assert np.allclose(fp.fk(approach2.end), T_mid @ SIDE, atol=1e-9)


def test_planning_is_deterministic() -> None:
    def run() -> list[tuple[str, float]]:
        fp = FakePlanner()
        lg = leg(grasp_set(TOP, SIDE))
        scene, s0 = start(fp, lg)
        sol = first_solution(pick_place(), lg, s0, scene)
        assert isinstance(sol, Solution)
        return [(s.step.name, s.step.duration_s) for s in sol.steps]

    assert run() == run()
