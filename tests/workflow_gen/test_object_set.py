"""The generated object set of the grasp benchmark: deterministic, 60+ objects, 15-90 mm, shells, importable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from workflow_gen.cad_import import import_parts
from workflow_gen.object_set import (
    FAMILIES,
    SIZE_RANGE_MM,
    make_object,
    make_objects,
    shell_count,
    write_kit,
    write_stl,
)
from workflow_gen.variant import load_variant

N = 60


@pytest.fixture(scope="module")
def objects():
    return make_objects(N, seed=0)


def _digest(objs) -> str:
    h = hashlib.sha256()
    for name, m in objs:
        h.update(name.encode())
        h.update(np.ascontiguousarray(m.vertices).tobytes())
        h.update(np.ascontiguousarray(m.faces).tobytes())
    return h.hexdigest()


def test_deterministic_per_seed(objects):
    assert _digest(make_objects(N, seed=0)) == _digest(objects)
    assert _digest(make_objects(N, seed=1)) != _digest(objects)
    # An object does not depend on how many are asked for.
    name, m = make_object(7, seed=0)
    assert name == objects[7][0]
    assert np.array_equal(m.vertices, objects[7][1].vertices)


def test_sixty_objects_of_every_family(objects):
    assert len(objects) >= 60
    names = [n for n, _ in objects]
    assert len(set(names)) == len(names)
    fams = {n.rsplit("_", 1)[0] for n in names}
    assert fams == set(FAMILIES)


def test_sizes_within_range(objects):
    lo, hi = SIZE_RANGE_MM
    for name, m in objects:
        ext_mm = np.asarray(m.extents) * 1000.0
        assert lo - 1e-6 <= ext_mm.max() <= hi + 1e-6, (name, ext_mm)
        assert ext_mm.min() > 1.0, (name, ext_mm)
    largest = [float(np.max(m.extents)) * 1000.0 for _, m in objects]
    assert min(largest) < 30.0 and max(largest) > 75.0  # the range is used, not one size


def test_some_have_several_overlapping_shells(objects):
    multi = [n for n, m in objects if shell_count(m) > 1]
    assert len(multi) >= 10
    # Every union written as its primitives, and some prisms, revolves and brackets with a boss of its own.
    assert {n for n, _ in objects if n.startswith("shells")} <= set(multi)
    assert any(not n.startswith("shells") for n in multi)


def test_every_mesh_imports_as_one_watertight_solid(objects, tmp_path: Path):
    parts = ["parts:"]
    for name, m in objects:
        write_stl(m, tmp_path / f"{name}.stl")
        parts.append(f"  - {{name: {name}, cad: {name}.stl, units: mm, source: feeder, target: A1}}")
    (tmp_path / "variant.yaml").write_text("\n".join(parts) + "\n")
    geoms = import_parts(tmp_path, load_variant(tmp_path), 0.085)
    assert [g.name for g in geoms] == [n for n, _ in objects]
    shells = dict(objects)
    for g in geoms:
        assert g.issue is None or g.issue.startswith("too large"), (g.name, g.issue)
        assert g.mesh.is_watertight and g.mesh.is_volume, g.name
        assert len(g.mesh.split(only_watertight=False)) == 1, g.name
        assert g.mass_kg > 0
        if shell_count(shells[g.name]) > 1:
            assert any("united" in note for note in g.repair_notes), (g.name, g.repair_notes)
        # The STL is in millimetres, the import in metres: the same size.
        assert np.allclose(g.mesh.extents.max(), shells[g.name].extents.max(), rtol=1e-3)


def test_write_kit_is_a_kit_variant(objects, tmp_path: Path):
    name, m = objects[3]
    d = write_kit(tmp_path / name, name, m, slot="B2")
    raw = yaml.safe_load((d / "variant.yaml").read_text())
    assert raw["parts"] == [
        {"name": "obj", "cad": "obj.stl", "units": "mm", "source": "feeder", "target": "B2"}
    ]
    spec = load_variant(d)
    assert spec.kind == "kit" and spec.name == name
