"""Planning is a function of (inputs, seed): the same workflow twice in one process and in another process."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np

from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]
VARIANT = REPO / "cad_parts" / "two_side_housing"  # sideways insertion, worker tasks, fastener checks

DIGEST = """
import hashlib, sys
import numpy as np
from workflow_gen.pipeline import plan_variant
o = plan_variant(sys.argv[1], seed=int(sys.argv[2]))
h = hashlib.sha256()
h.update(o.workflow.model_dump_json(exclude={"created_utc", "plan_time_s"}).encode())
for k in sorted(o.trajectories):
    h.update(k.encode()); h.update(np.ascontiguousarray(o.trajectories[k].q).tobytes())
print(h.hexdigest())
"""


def _digest(seed: int) -> str:
    o = plan_variant(VARIANT, seed=seed)
    h = hashlib.sha256()
    h.update(o.workflow.model_dump_json(exclude={"created_utc", "plan_time_s"}).encode())
    for k in sorted(o.trajectories):
        h.update(k.encode())
        h.update(np.ascontiguousarray(o.trajectories[k].q).tobytes())
    return h.hexdigest()


def test_same_plan_in_one_process_and_in_another() -> None:
    first, second = _digest(0), _digest(0)
    assert first == second, "two plans in one process differ"
    other = subprocess.run(
        [sys.executable, "-c", DIGEST, str(VARIANT), "0"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.strip()
    assert other == first, "a plan in another process differs"
