"""A part's frozen context (what the analysis found) and its planned record (context + outcome).

The analysis stages (import, resting pose, placement and feeding, sequence, grasps) each return new data;
:class:`PartContext` gathers it once per part and nothing changes it afterwards. :class:`PartPlan` is what
the report and the benchmark read: the context, the outcome and the grasps the chosen leg had.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workflow_gen.cad_import import PartGeometry
from workflow_gen.grasps import GraspSet
from workflow_gen.stages.context import Impossible, PartOutcome, RobotTask, WorkerTask
from workflow_gen.stages.core import Failure

FROM_ABOVE = np.array([0.0, 0.0, -1.0])


@dataclass(frozen=True)
class PartContext:
    """Everything known about one part instance before its motions are planned (world frame, metres).

    Attributes
    ----------
    T_world_start : (4, 4) resting pose where it is fed from, ``None`` when it has no feeding place
    T_world_target : (4, 4) its place in the product / kit, ``None`` when it could not be laid out
    insert_dir : (3,) unit, direction it moves on the last straight line into place (default from above)
    supports : parts it rests on or is held by at its place (they must be placed before it)
    blocked : why the robot cannot do it before any motion is tried (too large, bad mesh, ...), or None
    fastener : ``bolt``, ``screw``, ``nut``, ``washer`` or ``None``
    fastened_with : for a fastener, the part it is threaded on or that threads into it
    tolerance : (mm, deg) it may rest from its target once placed (the station's, or the variant's)
    """

    geom: PartGeometry
    resting_probability: float = 0.0
    symmetry: str = "none"
    T_world_start: np.ndarray | None = None
    source_slot: str = ""
    source_station: str = ""
    source_surface_z_m: float = 0.0
    T_world_target: np.ndarray | None = None
    target_label: str = ""
    target_station: str = ""
    target_surface_z_m: float = 0.0
    tolerance: tuple[float, float] = (2.0, 2.0)
    insert_dir: np.ndarray = field(default_factory=lambda: FROM_ABOVE.copy())
    supports: tuple[str, ...] = ()
    blocked: Failure | None = None
    fastener: str | None = None
    fastened_with: str | None = None
    grasps: GraspSet | None = None
    grasp_time_s: float = 0.0
    grasps_cached: bool = False

    @property
    def name(self) -> str:
        return self.geom.name

    @property
    def source(self) -> str:
        """The station it is fed from (the feeder laid out may put it on another than requested)."""
        return self.source_station or self.geom.source


@dataclass(frozen=True)
class PartPlan:
    """A part as planned: its context, its outcome and the grasps of the leg the robot took (if any)."""

    ctx: PartContext
    outcome: PartOutcome | None = None
    usable: GraspSet | None = None

    @property
    def name(self) -> str:
        return self.ctx.name

    @property
    def geom(self) -> PartGeometry:
        return self.ctx.geom

    @property
    def issue(self) -> str | None:
        """Why the robot does not do it (``None`` for a robot task)."""
        o = self.outcome
        if isinstance(o, WorkerTask | Impossible):
            return o.reason
        if o is None and self.ctx.blocked is not None:
            return self.ctx.blocked.sentence
        return None

    @property
    def by_robot(self) -> bool:
        return isinstance(self.outcome, RobotTask)

    def __getattr__(self, name: str) -> object:
        # The context's fields read through (grasps, supports, T_world_start, target_label, ...).
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.ctx, name)
