"""Task-planning stages in the manner of MoveIt Task Constructor (see :mod:`workflow_gen.stages.core`)."""

from workflow_gen.stages.context import Impossible, Leg, PartOutcome, RobotTask, WorkerTask
from workflow_gen.stages.core import (
    Alternatives,
    Failure,
    Fallbacks,
    PlannedStep,
    Scene,
    Serial,
    Solution,
    Stage,
    State,
    first_solution,
)
from workflow_gen.stages.pick_and_place import leg_grasps, pick_place, regrasp

__all__ = [
    "Alternatives",
    "Failure",
    "Fallbacks",
    "Impossible",
    "Leg",
    "PartOutcome",
    "PlannedStep",
    "RobotTask",
    "Scene",
    "Serial",
    "Solution",
    "Stage",
    "State",
    "WorkerTask",
    "first_solution",
    "leg_grasps",
    "pick_place",
    "regrasp",
]
