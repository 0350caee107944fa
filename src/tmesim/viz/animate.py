"""An animation of a run: the spatial map of cell types at every snapshot, as GIF or MP4.

Each frame is :func:`tmesim.viz.figures.spatial_map` (the report's map: same palette, axes in
µm, title with the day) drawn on a figure of fixed size, so every frame has the same pixels
and the axes do not jump. GIF is written by imageio's pillow plugin, MP4 (H.264) by
imageio-ffmpeg, whose wheel ships its own ffmpeg binary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tmesim.io import ModelError, RunDirectory

from . import figures

FORMATS = (".gif", ".mp4")
# 960 × 640 pixels: both multiples of 16, the macro-block size of H.264, so ffmpeg need not resize.
FIGSIZE = (9.6, 6.4)
DPI = 100


def render_frames(run_dir: str | Path) -> Iterator[tuple[float, np.ndarray]]:
    """(day, RGB uint8 image of shape (640, 960, 3)) for each cell snapshot of a run, in time order."""
    rd = RunDirectory(run_dir)
    cfg = rd.config
    for day in rd.snapshot_times():
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
        # the map on the left, the legend (anchored right of the axes) in the fixed space beside it
        fig.subplots_adjust(left=0.08, right=0.62, bottom=0.1, top=0.92)
        figures.spatial_map(rd.cells(day), cfg, day, ax=ax)
        fig.canvas.draw()
        rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        plt.close(fig)
        yield day, rgb


def animate(run_dir: str | Path, out: str | Path, fps: float = 4.0) -> Path:
    """Write the cell-type map at every snapshot of ``run_dir`` as an animation at ``out``.

    ``out`` ends in ``.gif`` (pillow, loops forever) or ``.mp4`` (H.264 via imageio-ffmpeg);
    ``fps`` is frames (snapshots) per second. Returns the path written.
    """
    rd = RunDirectory(run_dir)
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ModelError("--out", f"unknown animation format {out.suffix or '(none)'!r}; use a name ending in .gif or .mp4")
    if not fps > 0:
        raise ModelError("--fps", f"frames per second must be > 0, got {fps:g}")
    if not out.parent.is_dir():
        raise ModelError("--out", f"folder {str(out.parent)!r} does not exist")
    if not rd.snapshot_times():
        raise ModelError("run", f"{str(rd.path)!r} has no cell snapshots to animate")
    # write next to the target and rename, so a failed write never leaves half a file at ``out``
    tmp = out.with_name(f".{out.stem}.partial{suffix}")
    try:
        if suffix == ".gif":
            import imageio.v3 as iio

            frames = [rgb for _, rgb in render_frames(run_dir)]
            iio.imwrite(tmp, np.stack(frames), extension=".gif", plugin="pillow",
                        duration=1000.0 / fps, loop=0)
        else:
            import imageio.v2 as iio2

            with iio2.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                 quality=8, pixelformat="yuv420p", macro_block_size=16) as writer:
                for _, rgb in render_frames(run_dir):
                    writer.append_data(rgb)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
