"""Planning benchmark (grasp synthesis per part, plan time per variant); same as ``flexcell bench plan --json``."""

from __future__ import annotations

import json

from workflow_gen.bench import run_bench

if __name__ == "__main__":
    print(json.dumps(run_bench(), indent=2))
