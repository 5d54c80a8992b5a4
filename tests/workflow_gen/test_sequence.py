"""Sequencing: assembly by disassembly and kit ordering."""

from __future__ import annotations

import numpy as np
import trimesh

from workflow_gen.sequence import assembly_order, kit_order, travel_m


def _box(ext, at) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=ext)
    m.apply_translation(at)
    return m


def test_stack_is_built_bottom_up() -> None:
    meshes = {
        "top": _box((0.02, 0.02, 0.02), (0, 0, 0.05)),
        "base": _box((0.06, 0.06, 0.02), (0, 0, 0.01)),
        "middle": _box((0.04, 0.04, 0.02), (0, 0, 0.03)),
        "beside": _box((0.02, 0.02, 0.02), (0.08, 0, 0.01)),
    }
    r = assembly_order(meshes)
    assert r.blocked == {}
    assert r.order.index("base") < r.order.index("middle") < r.order.index("top")
    assert r.supports == {"top": {"middle"}, "middle": {"base"}, "base": set(), "beside": set()}


def test_floating_and_tipping_parts_are_reported() -> None:
    meshes = {
        "base": _box((0.04, 0.04, 0.02), (0, 0, 0.01)),
        "floating": _box((0.02, 0.02, 0.02), (0.1, 0, 0.05)),
        "overhang": _box((0.06, 0.02, 0.01), (0.045, 0, 0.025)),  # COM beyond the base's edge
    }
    r = assembly_order(meshes)
    assert "floating" in r.blocked and "nothing under it" in r.blocked["floating"]
    assert "overhang" in r.blocked and "tip over" in r.blocked["overhang"]
    assert r.order == ["base"]


def test_part_under_an_overhang_cannot_go_in_from_above() -> None:
    # A bridge over a block: the block can only be inserted before the bridge, and the bridge rests on
    # two posts; all insertable from above in the right order.
    meshes = {
        "post_a": _box((0.01, 0.02, 0.03), (-0.03, 0, 0.015)),
        "post_b": _box((0.01, 0.02, 0.03), (0.03, 0, 0.015)),
        "bridge": _box((0.07, 0.02, 0.01), (0, 0, 0.035)),
        "block": _box((0.02, 0.02, 0.02), (0, 0, 0.01)),
    }
    r = assembly_order(meshes)
    assert r.blocked == {}
    assert r.order.index("block") < r.order.index("bridge")
    assert r.order.index("post_a") < r.order.index("bridge") and r.order.index("post_b") < r.order.index(
        "bridge"
    )


def test_kit_order_shortens_travel() -> None:
    rng = np.random.default_rng(0)
    jobs = {f"p{i}": (rng.uniform(-0.3, 0.3, 3), rng.uniform(-0.3, 0.3, 3)) for i in range(8)}
    start = np.zeros(3)
    order = kit_order(jobs, start)
    assert sorted(order) == sorted(jobs)
    assert travel_m(jobs, order, start) < travel_m(jobs, list(jobs), start)
