"""The words the workflow file, the simulator and the ROS executor share: step phases and reason kinds.

One meaning, one place: a step says what it does with :class:`Phase` (written to ``workflow.yaml`` as the
step's ``phase``), and a part the robot does not do says why with :class:`ReasonKind` beside the sentence
for people. Nothing downstream guesses a phase from a step name or a reason from its wording.
"""

from __future__ import annotations

from enum import Enum


class Phase(str, Enum):
    """What one step of a task does (the feedback phase of the ROS executor, too)."""

    OPEN = "open"  # jaws open to the pre-grasp width before the pick
    TRANSIT = "transit"  # free motion between stations (planned by OMPL / MoveIt)
    APPROACH = "approach"  # straight line onto the grasp pose along the tool axis
    PICK = "pick"  # jaws close on the part; the part rides with the tool from here on
    LIFT = "lift"  # straight line away from the surface the part was picked from
    INSERT = "insert"  # straight line along the part's insertion direction into its place
    RELEASE = "release"  # jaws open; the part stays where it was put
    RETREAT = "retreat"  # straight line back off the placed part along the tool axis
    HOME = "home"  # free motion back to the home configuration
    WORKER = "worker"  # a person's task (the robot waits at home)


# Step names written by earlier versions (schema 1 files without a ``phase``) and their phases.
LEGACY_STEP_PHASES: dict[str, Phase] = {
    "open": Phase.OPEN,
    "transit_pick": Phase.TRANSIT,
    "approach": Phase.APPROACH,
    "close": Phase.PICK,
    "lift": Phase.LIFT,
    "transit_place": Phase.TRANSIT,
    "insert": Phase.INSERT,
    "release": Phase.RELEASE,
    "retreat": Phase.RETREAT,
    "return_home": Phase.HOME,
}


def phase_of_step_name(name: str) -> Phase:
    """The phase of a step written without one (old files); exact names, then the last ``_``-word."""
    if name in LEGACY_STEP_PHASES:
        return LEGACY_STEP_PHASES[name]
    for candidate in (name.rsplit(".", 1)[-1], name.split("_", 1)[0]):
        if candidate in LEGACY_STEP_PHASES:
            return LEGACY_STEP_PHASES[candidate]
        try:
            return Phase(candidate)
        except ValueError:
            pass
    raise ValueError(f"step {name!r} has no phase and its name is not one of {sorted(LEGACY_STEP_PHASES)}")


class ReasonKind(str, Enum):
    """Why a part is a worker's task or cannot be done (machine-readable; a sentence goes beside it)."""

    BAD_MESH = "bad_mesh"  # the CAD surface is open or empty and could not be repaired
    TOO_LARGE = "too_large"  # wider than the gripper's stroke on every side
    TOO_HEAVY = "too_heavy"  # more than the grip force holds with the safety factor
    NO_GRASP = "no_grasp"  # no collision-free grasp of the part at the pick and the place
    UNREACHABLE = "unreachable"  # no collision-free IK at the pick, the place or on the way
    MOTION_BLOCKED = "motion_blocked"  # an approach, insertion or transit was blocked
    FROM_BELOW = "from_below"  # goes in from below (e.g. a nut under a plate): a person's reach
    FASTENING = "fastening"  # screwing / bolting needs a tool the cell does not have
    NO_FEED_SPACE = "no_feed_space"  # the feeding stations are full: handed to the cell by a person
    DEPENDS_ON = "depends_on"  # rests on a part that is not placed before it
    INTERLOCKED = "interlocked"  # no straight direction takes it in without passing through others
    UNSUPPORTED = "unsupported"  # nothing holds it up at its place in the product
    TIPS_OVER = "tips_over"  # its centre of mass lies outside what it rests on
    TOO_HEAVY_FOR_WORKER = "too_heavy_for_worker"  # heavier than one person lifts by hand
