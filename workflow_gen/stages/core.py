"""The stage machinery: interface states, partial solutions, failures and the three containers.

Modelled on MoveIt Task Constructor: a *stage* takes a partial solution (the robot's state after the steps
so far) and yields its continuations, or :class:`Failure` records that say why a branch ended. Generators
yield several continuations (grasp candidates), propagators and connectors one (or a failure). Containers
compose stages:

``Serial``        runs its children one after the other, depth first, backtracking into the generators
``Alternatives``  yields the continuations of every child (any of them may be taken)
``Fallbacks``     yields the continuations of the first child that has any (robot, then regrasp, ...)

The planner's world holds the task's part where the state says it is: :class:`Scene` puts it there
(attached to the tool or lying at a pose) before every planning request, so backtracking needs no undo.
Stages never mutate a state or a solution; they make new ones with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from motion.trajectory import JointTrajectory
from workflow_gen.model import MotionStep
from workflow_gen.phases import ReasonKind

if TYPE_CHECKING:
    from workflow_gen.stages.context import Leg


@dataclass(frozen=True)
class State:
    """The cell between two stages (world frame, metres, radians).

    Attributes
    ----------
    q : (n,) float, arm configuration
    opening_m : jaw opening used for collision checks
    T_world_part : (4, 4) float, where the task's part lies; ``None`` while it is held
    T_tcp_part : (4, 4) float, the held part in the tool frame; ``None`` when not held
    grasp : index of the chosen grasp in the current leg's grasp set (``None`` before a generator ran)
    hints : goals found by a generator for later connectors (e.g. ``q_pre_pick``, ``q_pre_insert``)
    """

    q: np.ndarray
    opening_m: float
    T_world_part: np.ndarray | None
    T_tcp_part: np.ndarray | None = None
    grasp: int | None = None
    hints: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedStep:
    """A step of a solution: the workflow step (its trajectory key is set by the driver) and its motion."""

    step: MotionStep
    trajectory: JointTrajectory | None = None


@dataclass(frozen=True)
class Solution:
    """A partial (or, at the end of a chain, complete) solution: the state reached and the steps so far."""

    state: State
    steps: tuple[PlannedStep, ...] = ()
    grasps_used: tuple[int, ...] = ()

    def then(self, state: State, *steps: PlannedStep) -> Solution:
        return Solution(state, self.steps + steps, self.grasps_used)


@dataclass(frozen=True)
class Failure:
    """Why a branch ended: a machine-readable kind, a sentence, and the stage that said so."""

    kind: ReasonKind
    sentence: str
    stage: str = ""


Outcome = Solution | Failure


class Scene:
    """The planner plus where the current task's part is in its world (applied lazily, before each request)."""

    def __init__(self, planner: Any) -> None:
        self.planner = planner
        self._held: dict[str, bool] = {}

    def put(self, part: str, T_world_part: np.ndarray, q: np.ndarray) -> None:
        """Lay ``part`` at ``T_world_part`` (detached)."""
        if self._held.get(part):
            self.planner.detach_object(part, q)
        self.planner.set_object_pose(part, T_world_part)
        self._held[part] = False

    def sync(self, part: str, state: State) -> None:
        """Make the planner's world agree with ``state`` for ``part`` and the jaw opening."""
        p = self.planner
        p.set_gripper_opening(state.opening_m)
        if state.T_tcp_part is not None:
            if self._held.get(part):
                p.detach_object(part, state.q)
            p.set_object_pose(part, p.fk(state.q) @ state.T_tcp_part)
            p.attach_object(part, state.q)
            self._held[part] = True
        else:
            assert state.T_world_part is not None
            self.put(part, state.T_world_part, state.q)


class Stage(ABC):
    """One named stage; ``expand`` yields continuations of ``sol`` and failures, lazily."""

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Serial(Stage):
    """Children one after the other; each continuation of a child is extended by the next (depth first).

    ``leg`` may be given per child: a container that joins two pick-and-place legs (a regrasp) passes each
    half its own leg.
    """

    def __init__(self, name: str, children: Sequence[Stage], legs: Sequence[Leg] | None = None) -> None:
        super().__init__(name)
        self.children = list(children)
        self.legs = list(legs) if legs is not None else None

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        yield from self._chain(0, leg, sol, scene)

    def _chain(self, i: int, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        if i == len(self.children):
            yield sol
            return
        child_leg = self.legs[i] if self.legs is not None else leg
        for out in self.children[i].expand(child_leg, sol, scene):
            if isinstance(out, Failure):
                yield out
            else:
                yield from self._chain(i + 1, leg, out, scene)


class Alternatives(Stage):
    """The continuations of every child, in order."""

    def __init__(self, name: str, children: Sequence[Stage]) -> None:
        super().__init__(name)
        self.children = list(children)

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        for child in self.children:
            yield from child.expand(leg, sol, scene)


class Fallbacks(Stage):
    """The continuations of the first child that has any; the failures of all when none has."""

    def __init__(self, name: str, children: Sequence[Stage]) -> None:
        super().__init__(name)
        self.children = list(children)

    def expand(self, leg: Leg, sol: Solution, scene: Scene) -> Iterator[Outcome]:
        failures: list[Failure] = []
        for child in self.children:
            found = False
            for out in child.expand(leg, sol, scene):
                if isinstance(out, Failure):
                    failures.append(out)
                else:
                    found = True
                    yield out
            if found:
                return
        yield from failures


def first_solution(stage: Stage, leg: Leg, start: Solution, scene: Scene) -> Solution | list[Failure]:
    """The first complete solution of ``stage`` from ``start``, or every failure met on the way."""
    failures: list[Failure] = []
    for out in stage.expand(leg, start, scene):
        if isinstance(out, Solution):
            return out
        failures.append(out)
    return failures


def summarise(failures: Sequence[Failure], tried: int) -> Failure:
    """One failure for people: the stage that failed most often over the branches tried, with its kind."""
    if not failures:
        return Failure(ReasonKind.NO_GRASP, "no candidate to try", "")
    if len(failures) == 1:
        return failures[0]
    counts = Counter((f.kind, f.stage) for f in failures)
    (kind, stage), n = counts.most_common(1)[0]
    first = next(f for f in failures if (f.kind, f.stage) == (kind, stage))
    return Failure(kind, f"no feasible grasp among {tried} tried; most often: {first.sentence} ({n}x)", stage)
