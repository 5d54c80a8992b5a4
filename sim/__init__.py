"""flexcell simulation: the cell in MuJoCo, ros2_control-like controllers, validation, pictures, Gazebo export.

Importing this package picks a headless OpenGL backend for MuJoCo's renderer when there is no display and
none was chosen: ``MUJOCO_GL`` must be set before mujoco is first imported, and without a display MuJoCo's
default (GLFW) aborts the process. EGL works with Mesa on CPU; without libEGL, OSMesa is the fallback.
"""

from __future__ import annotations

import ctypes.util
import os

if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    _backend = "egl" if ctypes.util.find_library("EGL") else "osmesa"
    os.environ["MUJOCO_GL"] = _backend
    os.environ.setdefault("PYOPENGL_PLATFORM", _backend)
