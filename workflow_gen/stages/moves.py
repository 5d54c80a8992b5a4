"""The stages of a pick-and-place leg: a grasp generator, connectors, propagators and gripper stages.

========================  ==============  ====================================================================
stage                     phase           what it does
========================  ==============  ====================================================================
:class:`GenerateGrasps`   (generator)     each grasp of the leg with collision-free IK at the pre-pick and
                                          pre-insert poses (the goals of the two transits)
:class:`OpenJaws`         ``open``        jaws to the grasp's pre-grasp width
:class:`Transit`          ``transit``     free motion to a goal found by the generator (OMPL / MoveIt)
:class:`Approach`         ``approach``    straight onto the grasp along the tool axis
:class:`CloseJaws`        ``pick``        jaws close, the part rides with the tool
:class:`Lift`             ``lift``        straight away from the pick surface (world up)
:class:`Insert`           ``insert``      straight along the part's insertion direction into place
:class:`ReleaseJaws`      ``release``     jaws open, the part stays at its place
:class:`Retreat`          ``retreat``     straight back off the placed part along the tool axis
========================  ==============  ====================================================================

Every stage works through any planner with the ``motion.Planner`` methods (embedded OMPL or MoveIt).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from workflow_gen.model import MotionStep
from workflow_gen.phases import Phase, ReasonKind
from workflow_gen.stages.context import UP, Leg
from workflow_gen.stages.core import Failure, Outcome, PlannedStep, Scene, Solution, Stage

GRIPPER_SETTLE_S = 0.2
SIDEWAYS_HOVER_M = 0.0004
SQUEEZE_M = 0.004  # the close command goes this far below the contact width so the jaws press
# At the place the jaws open only this much wider than the part: enough to let go, narrow enough to leave
# a pocket or a neighbour untouched (the full pre-grasp opening is for the approach at the pick).
RELEASE_GAP_M = 0.006


def release_width_m(contact_m: np.ndarray | float, pregrasp_m: np.ndarray | float) -> np.ndarray:
    """Jaw opening after the release: the part's width plus :data:`RELEASE_GAP_M`, at most the pre-grasp."""
    return np.minimum(np.asarray(contact_m, float) + RELEASE_GAP_M, np.asarray(pregrasp_m, float))


def shifted(T: np.ndarray, d_m: np.ndarray) -> np.ndarray:
    """``T (4, 4)`` moved by ``d_m (3,)`` in the world."""
    out = np.array(T, dtype=float, copy=True)
    out[:3, 3] += d_m
    return out


def grasp_poses(leg: Leg, gi: int) -> dict[str, np.ndarray]:
    """The tool poses of grasp ``gi`` on ``leg``: pick, pre-pick, lift, place, pre-insert, retreat."""
    G = leg.grasps.T_part_tcp[gi]
    T_pick = leg.T_world_from @ G
    d = leg.insert_dir / np.linalg.norm(leg.insert_dir)
    # A part going in sideways slides in a hair above where it rests (its hole's clearance) and drops onto
    # it at the release, instead of scraping along the bottom of the holes all the way in.
    hover = SIDEWAYS_HOVER_M * UP if abs(d[2]) < 0.5 else np.zeros(3)
    T_place = shifted(leg.T_world_to @ G, hover)
    return {
        "pick": T_pick,
        "pre_pick": shifted(T_pick, -leg.approach_m * T_pick[:3, 2]),
        "lift": shifted(T_pick, leg.retreat_m * leg.lift_dir),
        "place": T_place,
        "pre_insert": shifted(T_place, -leg.insert_length_m * d),
        "retreat": shifted(T_place, -leg.retreat_m * T_place[:3, 2]),
    }


def _gripper_step(name: str, phase: Phase, from_m: float, to_m: float, speed: float, **kw: Any) -> MotionStep:
    dur = abs(to_m - from_m) / speed + GRIPPER_SETTLE_S
    return MotionStep(
        name=name, kind="gripper", phase=phase, duration_s=round(dur, 4), gripper_width_m=round(to_m, 6), **kw
    )


def _traj_step(name: str, phase: Phase, traj: Any) -> PlannedStep:
    step = MotionStep(name=name, kind="trajectory", phase=phase, duration_s=round(float(traj.duration_s), 4))
    return PlannedStep(step, traj)


class GenerateGrasps(Stage):
    """Generator: the leg's grasps, best first, that have collision-free IK above the pick and the place."""

    def __init__(self, name: str = "grasps", max_tries: int = 12) -> None:
        super().__init__(name)
        self.max_tries = max_tries

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        if len(leg.grasps) == 0:
            yield leg.no_grasp or Failure(ReasonKind.NO_GRASP, "no grasp candidate fits both ends", self.name)
            return
        planner = scene.planner
        for gi in range(min(self.max_tries, len(leg.grasps))):
            poses = grasp_poses(leg, gi)
            pre = float(leg.grasps.pregrasp_width_m[gi])
            probe = replace(sol.state, opening_m=pre)
            scene.sync(leg.part, probe)
            q_pre_pick = planner.ik(poses["pre_pick"], reference=sol.state.q)
            if q_pre_pick is None:
                yield Failure(ReasonKind.UNREACHABLE, "no collision-free IK above the pick pose", self.name)
                continue
            q_pre_insert = planner.ik(poses["pre_insert"], reference=q_pre_pick)
            if q_pre_insert is None:
                yield Failure(
                    ReasonKind.UNREACHABLE,
                    "no collision-free IK above the place pose (the start of the insertion)",
                    self.name,
                )
                continue
            hints = {**sol.state.hints, "q_pre_pick": q_pre_pick, "q_pre_insert": q_pre_insert}
            state = replace(sol.state, grasp=gi, hints=hints)
            yield Solution(state, sol.steps, (*sol.grasps_used, gi))


class OpenJaws(Stage):
    """Gripper: open to the chosen grasp's pre-grasp width."""

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        gi = sol.state.grasp
        assert gi is not None, "OpenJaws needs a grasp chosen by a generator before it"
        pre = float(leg.grasps.pregrasp_width_m[gi])
        step = _gripper_step(
            self.name,
            Phase.OPEN,
            sol.state.opening_m,
            pre,
            leg.gripper_speed_m_s,
            gripper_force_n=_force(leg),
        )
        yield sol.then(replace(sol.state, opening_m=pre), PlannedStep(step))


class Transit(Stage):
    """Connector: a free motion to the configuration a generator found (``goal``: a hint name)."""

    def __init__(self, name: str, goal: str, pose: str) -> None:
        super().__init__(name)
        self.goal, self.pose = goal, pose

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        st = sol.state
        assert st.grasp is not None
        scene.sync(leg.part, st)
        q_goal = st.hints[self.goal]
        r = scene.planner.plan_to_joint(st.q, q_goal)
        if not r.success:
            T_goal = grasp_poses(leg, st.grasp)[self.pose]
            r = scene.planner.plan_to_pose(st.q, T_goal, reference=q_goal)
        if not r.success:
            what = "the pick" if self.goal == "q_pre_pick" else "the place"
            yield Failure(
                ReasonKind.MOTION_BLOCKED, f"transit to {what} failed ({r.error_code})", self.name + leg.tag
            )
            return
        yield sol.then(
            replace(st, q=np.asarray(r.trajectory.end, float)),
            _traj_step(self.name, Phase.TRANSIT, r.trajectory),
        )


class _Straight(Stage):
    """Propagator: a straight tool line to one of the grasp's poses, touching only the allowed objects."""

    phase: Phase = Phase.APPROACH
    pose: str = "pick"
    at_place: bool = False
    blocked: str = "blocked"

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        st = sol.state
        assert st.grasp is not None
        scene.sync(leg.part, st)
        allowed = leg.allowed_at_place if self.at_place else leg.allowed_at_pick
        r = scene.planner.plan_cartesian(st.q, grasp_poses(leg, st.grasp)[self.pose], allowed_objects=allowed)
        if not r.success:
            yield Failure(ReasonKind.MOTION_BLOCKED, f"{self.blocked}: {r.message}", self.name + leg.tag)
            return
        q_end = np.asarray(r.trajectory.end, float)
        yield sol.then(replace(st, q=q_end), _traj_step(self.name, self.phase, r.trajectory))


class Approach(_Straight):
    phase, pose, blocked = Phase.APPROACH, "pick", "approach to the pick blocked"


class Lift(_Straight):
    phase, pose, blocked = Phase.LIFT, "lift", "lift blocked"


class Insert(_Straight):
    phase, pose, at_place, blocked = Phase.INSERT, "place", True, "insertion blocked"


class Retreat(_Straight):
    phase, pose, at_place, blocked = Phase.RETREAT, "retreat", True, "retreat from the place blocked"


class CloseJaws(Stage):
    """Gripper: close on the part (a little below its width, so the jaws press); the part rides along."""

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        st = sol.state
        assert st.grasp is not None and st.T_world_part is not None
        width = float(leg.grasps.contact_width_m[st.grasp])
        T_tcp_part = np.linalg.solve(scene.planner.fk(st.q), st.T_world_part)
        step = _gripper_step(
            self.name,
            Phase.PICK,
            st.opening_m,
            max(width - SQUEEZE_M, 0.0),
            leg.gripper_speed_m_s,
            gripper_force_n=_force(leg),
            attach=leg.part,
            contact_width_m=round(width, 6),
        )
        state = replace(st, opening_m=width, T_world_part=None, T_tcp_part=T_tcp_part)
        yield sol.then(state, PlannedStep(step))


class ReleaseJaws(Stage):
    """Gripper: open a little (:func:`release_width_m`); the part is at the leg's end pose from now on."""

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        st = sol.state
        assert st.grasp is not None
        width = float(leg.grasps.contact_width_m[st.grasp])
        pre = float(release_width_m(width, leg.grasps.pregrasp_width_m[st.grasp]))
        step = _gripper_step(
            self.name,
            Phase.RELEASE,
            width,
            pre,
            leg.gripper_speed_m_s,
            gripper_force_n=_force(leg),
            detach=leg.part,
        )
        state = replace(st, opening_m=pre, T_world_part=leg.T_world_to, T_tcp_part=None)
        yield sol.then(state, PlannedStep(step))


def _force(leg: Leg) -> float:
    return round(float(leg.grasps.force_n), 3)
