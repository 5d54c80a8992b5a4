"""What the stages read (a part's frozen context, one pick-and-place leg) and what planning a part gives.

A :class:`PartContext` is made once per part by the analysis (CAD, resting pose, feeding, sequence) and
never changed afterwards. A :class:`Leg` is one carry of the part from one pose to another with the grasps
that fit both ends: a plain task has one leg (feeder -> product), a regrasp two (feeder -> regrasp area ->
product). Planning a part ends in exactly one :class:`RobotTask`, :class:`WorkerTask` or
:class:`Impossible`, each with a :class:`ReasonKind` where a person or nobody does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workflow_gen.grasps import GraspSet
from workflow_gen.phases import ReasonKind
from workflow_gen.stages.core import Failure, Solution

UP = np.array([0.0, 0.0, 1.0])
DOWN = -UP


@dataclass(frozen=True)
class Leg:
    """One carry of ``part`` from ``T_world_from`` to ``T_world_to`` (world frame, metres).

    Attributes
    ----------
    insert_dir : (3,) unit, the direction the part moves on its last straight line into place
    from_station, to_station : stations the part may touch at the pick / at the place
    touches_at_place : further objects the part may touch while going in (the parts it rests on)
    grasps : candidate grasps (part frame), best first, already fit for both ends of this leg
    no_grasp : why ``grasps`` is empty (``None`` when it is not)
    tag : suffix of the step names of this leg (``""``, or ``"_2"`` for the second leg of a regrasp)
    insert_m : length of the straight insertion line (``None``: ``approach_m``); a part that slides
        sideways through holes starts the line clear of them
    """

    part: str
    T_world_from: np.ndarray
    T_world_to: np.ndarray
    from_station: str
    to_station: str
    insert_dir: np.ndarray
    grasps: GraspSet
    approach_m: float
    retreat_m: float
    gripper_speed_m_s: float
    touches_at_place: tuple[str, ...] = ()
    no_grasp: Failure | None = None
    tag: str = ""
    lift_dir: np.ndarray = field(default_factory=lambda: UP.copy())
    insert_m: float | None = None

    @property
    def insert_length_m(self) -> float:
        return self.approach_m if self.insert_m is None else self.insert_m

    @property
    def allowed_at_pick(self) -> tuple[str, ...]:
        return tuple(n for n in (self.part, self.from_station) if n)

    @property
    def allowed_at_place(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for n in (self.part, self.to_station, *self.touches_at_place) if n))


@dataclass(frozen=True)
class RobotTask:
    """The robot does the part: the complete solution and the legs it followed."""

    part: str
    solution: Solution
    legs: tuple[Leg, ...]
    kind: str = "pick_place"


@dataclass(frozen=True)
class WorkerTask:
    """A person does it (``kind``: ``place_by_hand``, ``hand_to_cell`` or ``fasten``), and why."""

    part: str
    kind: str
    reason_kind: ReasonKind
    reason: str


@dataclass(frozen=True)
class Impossible:
    """Neither the robot nor a person can do it as drawn; the reason names the cause."""

    part: str
    reason_kind: ReasonKind
    reason: str


PartOutcome = RobotTask | WorkerTask | Impossible
