"""The ``variant.yaml`` schema (pydantic, unknown keys rejected) and its loader.

Two forms:

assembly::

    assembly: product.step      # STEP assembly; each part's placement = its target in the fixture frame
    fixture: fixture            # station the product is built on
    feed: feeder                # default source station of every part
    parts:                      # optional per-part overrides, keyed by the part name in the STEP tree
      pin_1: {source: feeder}
      bolt_2: {fastener: bolt, torque_nm: 8.5}   # what it is and how tight, when recognition is wrong
    build_up: auto              # which CAD axis points up on the fixture: auto, +x, -x, +y, -y, +z, -z
    build_rpy_deg: [90, 0, 0]   # or a full rotation fixture-from-CAD (xyz extrinsic, degrees)
    fastening_tool: torque wrench   # what a worker fastens with when a part does not say

``build_up: auto`` (the default) stands the product on its base: a CAD already standing z up with its
bottom on z = 0 over the origin keeps its own frame, otherwise the most stable of the six axis directions
is chosen (see :mod:`workflow_gen.orientation`). ``build_up`` other than ``auto`` and ``build_rpy_deg``
exclude each other. Per-part ``fastener`` (bolt, screw, nut, washer or none) overrides the recognition of
fasteners from the geometry and names, ``torque_nm`` (> 0) is the tightening torque of that fastener.

kit::

    parts:
      - {name: nut, cad: nut.step, quantity: 2, source: feeder, target: [B1, B2]}
      - {name: disc, cad: disc.stl, units: mm, source: feeder, target: kit_tray/B3}
      - {name: cap, cad: cap.obj, target: {frame: kit_tray, xyz_m: [0.1, 0.0, 0.0]}}

Errors are :class:`cell_config.ConfigError`: one line naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cell_config import ConfigError, PoseSpec
from cell_config.loader import load_yaml_model

Units = Literal["m", "cm", "mm", "in"]
BuildUp = Literal["auto", "+x", "-x", "+y", "-y", "+z", "-z"]
Fastener = Literal["bolt", "screw", "nut", "washer", "none"]
UNIT_SCALE_M: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}
DEFAULT_DENSITY_KG_M3 = 2700.0  # aluminium


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssemblyPartOverride(_Strict):
    """Per-part settings of an assembly part (keyed by its name in the STEP tree)."""

    source: str | None = Field(default=None, description="station to pick it from (default: feed)")
    density_kg_m3: float | None = Field(default=None, gt=0)
    torque_nm: float | None = Field(default=None, gt=0, description="tightening torque of this fastener")
    fastener: Fastener | None = Field(
        default=None, description="what the part is, overriding the fastener recognition ('none': not one)"
    )
    tolerance_mm: float | None = Field(
        default=None, gt=0, description="placement tolerance of this part (only tighter than its station's)"
    )
    tolerance_deg: float | None = Field(default=None, gt=0, description="the same for its orientation")


class KitPart(_Strict):
    """One part line of a kit."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    cad: Path
    units: Units | None = Field(default=None, description="unit of STL/OBJ coordinates (default mm)")
    quantity: int = Field(default=1, ge=1, le=50)
    source: str = "feeder"
    target: str | PoseSpec | list[str | PoseSpec] = Field(
        description="kit slot name ('A1' or 'kit_tray/A1') or a pose; a list with one entry per unit"
    )
    density_kg_m3: float | None = Field(default=None, gt=0)

    tolerance_mm: float | None = Field(
        default=None, gt=0, description="placement tolerance of this part (only tighter than its station's)"
    )
    tolerance_deg: float | None = Field(default=None, gt=0, description="the same for its orientation")

    @model_validator(mode="after")
    def _targets_match_quantity(self) -> KitPart:
        if isinstance(self.target, list) and len(self.target) != self.quantity:
            raise ValueError(f"target lists {len(self.target)} entries for quantity {self.quantity}")
        if self.quantity > 1 and not isinstance(self.target, list):
            raise ValueError(f"quantity {self.quantity} needs a list of {self.quantity} targets")
        return self

    def targets(self) -> list[str | PoseSpec]:
        return list(self.target) if isinstance(self.target, list) else [self.target]


class VariantSpec(_Strict):
    """A product variant: an assembly (``assembly`` key) or a kit (``parts`` list)."""

    name: str | None = None
    description: str = ""
    assembly: Path | None = None
    fixture: str = "fixture"
    feed: str = "feeder"
    parts: list[KitPart] | dict[str, AssemblyPartOverride] | None = None
    density_kg_m3: float = Field(default=DEFAULT_DENSITY_KG_M3, gt=0)
    expect_infeasible: list[str] = Field(default_factory=list, description="parts known to be infeasible")
    build_up: BuildUp = Field(default="auto", description="CAD axis that points up on the fixture")
    build_rpy_deg: tuple[float, float, float] | None = Field(
        default=None, description="rotation fixture-from-CAD, xyz extrinsic, degrees (instead of build_up)"
    )
    fastening_tool: str = Field(
        default="torque wrench",
        min_length=1,
        description="what a worker fastens with when a part does not say",
    )

    @model_validator(mode="after")
    def _one_form(self) -> VariantSpec:
        if self.assembly is None:
            if not isinstance(self.parts, list) or not self.parts:
                raise ValueError("give either 'assembly: <file.step>' or a 'parts:' list (a kit)")
            names = [p.name for p in self.parts]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"duplicate part names {dup}")
        elif isinstance(self.parts, list):
            raise ValueError("an assembly takes 'parts:' as a map of part name -> overrides, not a list")
        if self.build_rpy_deg is not None and self.build_up != "auto":
            raise ValueError(
                f"give either build_up ({self.build_up!r}) or build_rpy_deg, not both: both set the build orientation"
            )
        return self

    @property
    def kind(self) -> Literal["assembly", "kit"]:
        return "assembly" if self.assembly is not None else "kit"

    def kit_parts(self) -> list[KitPart]:
        return self.parts if isinstance(self.parts, list) else []

    def overrides(self) -> dict[str, AssemblyPartOverride]:
        return self.parts if isinstance(self.parts, dict) else {}


def variant_file(variant_dir: Path) -> Path:
    return variant_dir / "variant.yaml"


def load_variant(variant_dir: Path | str) -> VariantSpec:
    """Read and validate ``<variant_dir>/variant.yaml``; CAD files must exist.

    Raises
    ------
    ConfigError
        One line ``file: key: reason`` on any problem.
    """
    d = Path(variant_dir)
    if not d.is_dir():
        raise ConfigError(d, "", "variant directory not found")
    f = variant_file(d)
    spec = load_yaml_model(f, VariantSpec)
    if spec.assembly is not None:
        if not (d / spec.assembly).is_file():
            raise ConfigError(f, "assembly", f"file not found: {d / spec.assembly}")
        if spec.assembly.suffix.lower() not in (".step", ".stp"):
            raise ConfigError(f, "assembly", "an assembly must be a STEP file (.step/.stp)")
    for i, p in enumerate(spec.kit_parts()):
        if not (d / p.cad).is_file():
            raise ConfigError(f, f"parts.{i}.cad", f"file not found: {d / p.cad} (part {p.name!r})")
        if p.cad.suffix.lower() not in (".step", ".stp", ".stl", ".obj"):
            raise ConfigError(
                f, f"parts.{i}.cad", f"unsupported CAD format {p.cad.suffix!r} (STEP, STL, OBJ)"
            )
    return spec
