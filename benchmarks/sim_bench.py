"""Simulation benchmark (real-time factor, render ms per frame); same as ``flexcell bench sim --json``."""

from __future__ import annotations

import json

from sim.bench import run_sim_bench

if __name__ == "__main__":
    print(json.dumps(run_sim_bench(), indent=2))
