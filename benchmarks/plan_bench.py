"""Planning benchmark (grasp synthesis per part, plan time per variant, the real-CAD corpus); same as
``flexcell bench plan --json``.

Run: ``python benchmarks/plan_bench.py [--no-corpus] [--seed N ...] [VARIANT_DIR ...]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workflow_gen.bench import CORPUS_SEEDS, run_bench


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", type=Path, help="variant dirs (default: all in cad_parts/)")
    ap.add_argument("--no-corpus", action="store_true", help="skip the held-out real-CAD corpus")
    ap.add_argument(
        "--seed", type=int, action="append", help=f"corpus seed (repeatable; default {list(CORPUS_SEEDS)})"
    )
    args = ap.parse_args()
    result = run_bench(
        args.variants or None, corpus=not args.no_corpus, corpus_seeds=args.seed or CORPUS_SEEDS
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
