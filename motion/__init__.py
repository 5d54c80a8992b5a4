"""Motion planning for flexcell: an embedded MoveIt-grade planner (OMPL + pinocchio + coal + toppra).

``MotionPlanner`` is the embedded backend, ``MoveItPyPlanner`` the moveit_py one (needs ``import moveit``);
both satisfy the ``Planner`` protocol and return ``PlanResult`` with a time-parameterised ``JointTrajectory``.
"""

from motion.moveit_config import moveit_config_texts, write_moveit_config
from motion.moveit_py_backend import MoveItPyPlanner, moveit_available
from motion.planner import MotionPlanner
from motion.result import ERROR_CODES, Planner, PlanResult
from motion.trajectory import JointTrajectory

__all__ = [
    "ERROR_CODES",
    "JointTrajectory",
    "MotionPlanner",
    "MoveItPyPlanner",
    "PlanResult",
    "Planner",
    "moveit_available",
    "moveit_config_texts",
    "write_moveit_config",
]
