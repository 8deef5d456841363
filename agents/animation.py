"""Episode animations for the evaluation report: the environment's own ``rgb_array`` frames
(:func:`sagsim.envs.views.render.render_rgb`) every few steps as an animated GIF (Pillow).

:class:`GifRecorder` is fed the world after every step and renders one frame every
``every_steps`` steps and at the last step, kept zlib-compressed (~80 kB a 480 px frame
instead of 690 kB). :meth:`GifRecorder.gif_bytes` reduces all frames to one 255-colour
palette (from a montage of a few frames spread over the episode; no dithering, so flat map
colours stay flat and do not flicker) and writes every frame after the first with the
pixels that did not change transparent (disposal 1: the previous frame shows through), which
makes the GIF about 7 times smaller than plain per-frame palettes. Each frame shows
:data:`FRAME_MS`, the last :data:`LAST_FRAME_MS`, looping.

Cost: rendering is about 0.2–0.3 s a frame at 480 px (matplotlib) against ~0.5 ms for a step
of the ``minimal`` scenario, so the default aims at :data:`TARGET_FRAMES` frames whatever the
episode's length; encoding is ~10 ms a frame.
"""

from __future__ import annotations

import io
import math
import re
import zlib

import numpy as np

__all__ = ["AUTO", "FRAME_MS", "FRAME_PX", "LAST_FRAME_MS", "MAX_EMBED_BYTES", "TARGET_FRAMES",
           "GifRecorder", "auto_every", "file_label", "file_names"]  # fmt: skip

AUTO = 0  # every_steps: about TARGET_FRAMES frames over the episode
TARGET_FRAMES = 60  # with FRAME_MS: a 7.5 s loop
FRAME_PX = 480  # frame side (px)
FRAME_MS = 125  # display time of a frame: 8 frames a second
LAST_FRAME_MS = 2000  # the final state stays a moment before the loop restarts
MAX_EMBED_BYTES = 4 * 2**20  # a larger GIF is linked from the report, not embedded
PALETTE_FRAMES = 6  # frames (spread over the episode) the shared palette is made from
TRANSPARENT = 255  # palette index of "unchanged since the last frame"


def auto_every(n_steps: int, target: int = TARGET_FRAMES) -> int:
    """Steps between frames for about ``target`` frames over ``n_steps`` steps (≥ 1)."""
    return max(1, math.ceil(int(n_steps) / max(1, int(target))))


def file_label(label: str) -> str:
    """``label`` (``greedy+kalman``, ``run/best``) as a safe file-name part."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", label).strip("._") or "episode"


def file_names(labels: list[str]) -> list[str]:
    """``episode_<label>.gif`` for each label (:func:`file_label`), made unique (``run/best``
    and ``run_best`` would collide) with a ``_2``, ``_3``… suffix."""
    out: list[str] = []
    for label in labels:
        stem = f"episode_{file_label(label)}"
        name, n = f"{stem}.gif", 1
        while name in out:
            n += 1
            name = f"{stem}_{n}.gif"
        out.append(name)
    return out


class GifRecorder:
    """Frames of one episode (see the module doc): call :meth:`step` after every step.

    ``every_steps``: steps between frames (:data:`AUTO`: :func:`auto_every` of the episode's
    length, read from the world at the first step); ``size_px``: the frame's side."""

    def __init__(self, every_steps: int = AUTO, size_px: int = FRAME_PX) -> None:
        from sagsim.envs.views.render import DroneTrail

        if int(every_steps) < 0:
            raise ValueError(f"every_steps must be >= 0 ({AUTO}: auto), got {every_steps}")
        self.every_steps = int(every_steps)
        self.size_px = int(size_px)
        self.frames: list[bytes] = []  # zlib-compressed (size_px, size_px, 3) uint8 frames
        self._steps = 0
        self._trail = DroneTrail()  # the drones' path, drawn on each frame

    def step(self, world, last: bool = False) -> None:
        """After a step of ``world``: record the drones' positions for their trail and
        render a frame when one is due (every ``every_steps`` steps from the first, and at
        ``last``, the episode's final step)."""
        from sagsim.envs.views.render import render_rgb

        self._trail.update(world)  # every step: the trail follows the whole path
        if self.every_steps == AUTO:
            self.every_steps = auto_every(world.n_steps)
        due = self._steps % self.every_steps == 0
        self._steps += 1
        if due or last:
            rgb = render_rgb(world, size_px=self.size_px, trail=self._trail)
            self.frames.append(zlib.compress(np.ascontiguousarray(rgb).tobytes(), 1))

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as rendered: ``(size_px, size_px, 3)`` uint8."""
        shape = (self.size_px, self.size_px, 3)
        return np.frombuffer(zlib.decompress(self.frames[i]), np.uint8).reshape(shape)

    def gif_bytes(self) -> bytes | None:
        """The animation as GIF bytes (None without frames)."""
        from PIL import Image

        if not self.frames:
            return None
        n = len(self.frames)
        sample = np.unique(np.linspace(0, n - 1, min(n, PALETTE_FRAMES)).round().astype(int))
        montage = Image.fromarray(np.concatenate([self.frame(i) for i in sample]))
        palette = montage.quantize(TRANSPARENT, method=Image.Quantize.FASTOCTREE,
                                   dither=Image.Dither.NONE)  # fmt: skip
        colours = palette.getpalette()[: 3 * TRANSPARENT]
        colours += [0] * (3 * 256 - len(colours))
        images, previous = [], None
        for i in range(n):
            frame = Image.fromarray(self.frame(i)).quantize(palette=palette,
                                                            dither=Image.Dither.NONE)  # fmt: skip
            index = np.asarray(frame)
            shown = index.copy()
            if previous is not None:
                shown[index == previous] = TRANSPARENT  # unchanged: the last frame shows
            previous = index
            image = Image.fromarray(shown, "P")
            image.putpalette(colours)
            images.append(image)
        durations = [FRAME_MS] * (n - 1) + [LAST_FRAME_MS]
        buf = io.BytesIO()
        images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=0, disposal=1, transparency=TRANSPARENT,
                       optimize=False)  # fmt: skip
        return buf.getvalue()
