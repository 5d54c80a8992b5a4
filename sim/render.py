"""Pictures of a simulated run: a storyboard PNG (pick, carry, place per task) and a short GIF/MP4.

Rendered off-screen with MuJoCo's OpenGL renderer: ``MUJOCO_GL=egl`` (Mesa, no GPU needed), falling back to
``osmesa`` when libEGL is missing; the backend is chosen before mujoco is first imported (in
``sim/__init__.py``: MuJoCo binds it at import, so it cannot change later in a process). The cell
camera (``cell.spec.camera``) is used when the cell has one, otherwise MuJoCo's free camera framed on the
cell. The renderer holds an OpenGL context: :class:`Recorder` closes it explicitly (use it as a context
manager).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image, ImageDraw

from cell_config import Cell
from sim.cell_sim import CellSim

EVENTS = ("pick", "carry", "place")


def open_renderer(model: mujoco.MjModel, width_px: int, height_px: int) -> mujoco.Renderer:
    """A :class:`mujoco.Renderer` without shadows and reflections (2-3x faster on a CPU renderer)."""
    try:
        r = mujoco.Renderer(model, height_px, width_px)
    except Exception as e:
        backend = os.environ.get("MUJOCO_GL", "(default)")
        raise RuntimeError(f"cannot open a MuJoCo renderer with MUJOCO_GL={backend}: {e}") from e
    r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    return r


def view_camera(cell: Cell) -> str | mujoco.MjvCamera:
    """The camera pictures of ``cell`` are taken with: its own (``cell.spec.camera``), else MuJoCo's free
    camera framed on the cell."""
    spec = cell.spec.camera
    return spec.name if spec is not None else Recorder.free_camera()


class StateCamera:
    """JPEG pictures of a cell's state given as joint positions (``qpos``), e.g. of a copy taken from a
    running simulation: rendered with a private ``MjData``, so the simulation is not touched. The OpenGL
    context belongs to the thread that creates the camera: create, use and close it in one thread."""

    def __init__(self, sim: CellSim, width_px: int = 640, height_px: int = 480) -> None:
        self.model = sim.model
        self.data = mujoco.MjData(sim.model)
        self.renderer = open_renderer(sim.model, width_px, height_px)
        self.camera = view_camera(sim.cell)

    def jpeg(self, qpos: np.ndarray, quality: int = 80) -> bytes:
        self.data.qpos[:] = qpos
        mujoco.mj_forward(self.model, self.data)
        self.renderer.update_scene(self.data, camera=self.camera)
        buf = io.BytesIO()
        Image.fromarray(self.renderer.render()).save(buf, format="JPEG", quality=quality)
        return buf.getvalue()

    def close(self) -> None:
        self.renderer.close()


class Recorder:
    """Collects storyboard frames (per task: pick, carry, place) and video frames of a run.

    Pass :meth:`on_frame` as the ``on_frame`` hook of :func:`sim.validate.validate_workflow`.

    Parameters
    ----------
    sim_model : the model the frames are rendered from (``CellSim.model``)
    camera : a model camera (name) or an MjvCamera (see :func:`view_camera`); None = the free camera on the cell
    width_px, height_px : render size of a frame
    video : also keep the periodic "tick" frames for the GIF/MP4
    video_scale : size factor of video frames (smaller GIFs)
    """

    def __init__(
        self,
        sim_model: mujoco.MjModel,
        camera: str | mujoco.MjvCamera | None,
        width_px: int = 640,
        height_px: int = 480,
        video: bool = True,
        video_scale: float = 0.5,
    ) -> None:
        self.renderer = open_renderer(sim_model, width_px, height_px)
        self.camera: str | int | mujoco.MjvCamera = camera if camera is not None else self.free_camera()
        self.video = video
        self.video_scale = video_scale
        self.story: list[tuple[str, str, np.ndarray]] = []  # (task, event, image)
        self.frames: list[np.ndarray] = []

    @staticmethod
    def free_camera() -> mujoco.MjvCamera:
        """MuJoCo's free camera framed on the cell (for cells without a camera of their own)."""
        cam = mujoco.MjvCamera()
        cam.lookat[:] = (0.3, 0.0, 0.2)
        cam.distance, cam.azimuth, cam.elevation = 2.2, 150.0, -30.0
        return cam

    def render(self, sim: CellSim) -> np.ndarray:
        """``(H, W, 3) uint8`` image of the current state."""
        self.renderer.update_scene(sim.data, camera=self.camera)
        return self.renderer.render().copy()

    def on_frame(self, sim: CellSim, task: str, event: str) -> None:
        if event in EVENTS:
            self.story.append((task, event, self.render(sim)))
        elif event == "tick" and self.video:
            img = Image.fromarray(self.render(sim))
            w, h = img.size
            img = img.resize((int(w * self.video_scale) // 2 * 2, int(h * self.video_scale) // 2 * 2))
            self.frames.append(np.asarray(img))

    def close(self) -> None:
        self.renderer.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write_storyboard(self, path: Path, title: str = "", tile_px: tuple[int, int] = (320, 240)) -> Path:
        """A grid PNG: one row per task, columns pick / carry / place, each tile labelled."""
        tasks: list[str] = []
        for task, _, _ in self.story:
            if task not in tasks:
                tasks.append(task)
        tw, th = tile_px
        head = 28 if title else 0
        sheet = Image.new("RGB", (tw * len(EVENTS), head + th * max(1, len(tasks))), (255, 255, 255))
        draw = ImageDraw.Draw(sheet)
        if title:
            draw.text((6, 8), title, fill=(0, 0, 0))
        filled: set[tuple[int, int]] = set()
        for task, event, img in self.story:
            r, c = tasks.index(task), EVENTS.index(event)
            tile = Image.fromarray(img).resize(tile_px)
            ImageDraw.Draw(tile).rectangle((0, 0, 150, 16), fill=(0, 0, 0))
            ImageDraw.Draw(tile).text((4, 3), f"{task}: {event}", fill=(255, 255, 255))
            sheet.paste(tile, (c * tw, head + r * th))
            filled.add((r, c))
        # A tile without a picture says why (an operator task has a before and an after, no carry by the robot).
        for r, task in enumerate(tasks):
            for c, event in enumerate(EVENTS):
                if (r, c) not in filled:
                    x, y = c * tw, head + r * th
                    draw.rectangle((x + 1, y + 1, x + tw - 2, y + th - 2), fill=(236, 238, 241))
                    note = "carried by the worker" if "(operator)" in task else f"no {event} picture"
                    draw.text((x + 12, y + th // 2 - 6), f"{task}: {note}", fill=(90, 96, 110))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
        sheet.save(tmp)
        tmp.replace(path)
        return path

    def write_video(self, path: Path, fps: float = 10.0, max_frames: int = 150) -> Path | None:
        """The run as a GIF (or MP4 if ``path`` ends in .mp4 and ffmpeg is available); None without frames.

        Long runs are thinned to ``max_frames`` evenly spaced frames (a 1-minute kit stays a few MB).
        """
        if not self.frames:
            return None
        import imageio.v3 as iio

        idx = np.unique(
            np.linspace(0, len(self.frames) - 1, min(max_frames, len(self.frames))).round().astype(int)
        )
        frames = np.stack([self.frames[i] for i in idx])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
        if path.suffix == ".gif":
            iio.imwrite(tmp, frames, duration=1000.0 / fps, loop=0)
        else:
            iio.imwrite(tmp, frames, fps=fps)
        tmp.replace(path)
        return path
