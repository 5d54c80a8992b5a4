"""What a workflow was planned from: a fingerprint of its inputs, so that a stale plan is never run.

A planned workflow records ``inputs_sha256``: the generator's version, the seed, every file of the variant
directory (variant.yaml and the CAD) and the cell's description files (cell YAML, URDF, SRDF,
joint_limits.yaml). Whoever reuses a planned workflow (the cell manager) compares it with the inputs as they
are now and plans again when they differ.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from cell_config import Cell

# Bump when the generator's output for the same inputs changes (plans made before are then re-planned).
# 2: operator tasks for the parts the robot cannot handle.
# 3: the generator as stages: any-direction insertion, fasteners, feeder layout, regrasp, tolerances.
GENERATOR_VERSION = 3


def inputs_fingerprint(variant_dir: Path | str, cell: Cell, seed: int = 0) -> str:
    """sha256 over the generator version, ``seed``, the variant directory's files and the cell's files."""
    vdir = Path(variant_dir).resolve()
    h = hashlib.sha256(f"flexcell workflow_gen {GENERATOR_VERSION} seed {seed}\n".encode())
    files = [
        p
        for p in sorted(vdir.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(vdir).parts)
    ]
    named = [(f"variant/{p.relative_to(vdir).as_posix()}", p) for p in files]
    named += [
        (f"cell/{role}", path)
        for role, path in (
            ("cell.yaml", cell.source),
            ("robot.urdf", cell.urdf_path),
            ("robot.srdf", cell.srdf_path),
            ("joint_limits.yaml", cell.joint_limits_path),
        )
    ]
    for name, path in named:
        data = Path(path).read_bytes()
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def stale_reason(workflow_path: Path | str, variant_dir: Path | str, cell: Cell) -> str:
    """Why the workflow at ``workflow_path`` no longer matches its inputs, or "" when it does."""
    path = Path(workflow_path)
    try:
        head = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        return f"{path} is unreadable ({e})"
    if not isinstance(head, dict):
        return f"{path} is not a workflow"
    recorded = str(head.get("inputs_sha256") or "")
    if not recorded:
        return f"{path} records no inputs fingerprint (planned by an older generator)"
    seed = int(head.get("seed") or 0)
    if recorded != inputs_fingerprint(variant_dir, cell, seed):
        return (
            f"{path} was planned on {head.get('created_utc', '?')} from other inputs (the variant's files, "
            f"the cell or the generator version {GENERATOR_VERSION} changed since)"
        )
    return ""
