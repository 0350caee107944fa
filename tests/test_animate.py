"""`tmesim animate` and the figures it reuses: frames per snapshot, figure properties (not pixels)."""

from __future__ import annotations

import imageio.v3 as iio
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
from typer.testing import CliRunner

import tmesim
from conftest import build, small_dict
from tmesim.cli import app
from tmesim.model import ModelError
from tmesim.viz import animate, figures
from tmesim.viz.animate import render_frames
from tmesim.viz.palette import pretty, type_colors


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("anim") / "run"
    tmesim.simulate(build(small_dict(days=1.0)), out=out, seed=3, days=1.0, report=False)
    return out


def _non_blank(img: np.ndarray) -> None:
    """Not one flat colour: many colours, and a real share of the picture is not white."""
    rgb = img[..., :3].reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 8
    assert (rgb.min(axis=1) < 200).mean() > 0.05


def test_gif_has_one_distinct_non_blank_frame_per_snapshot(run_dir, tmp_path) -> None:  # noqa: ANN001
    times = tmesim.RunDirectory(run_dir).snapshot_times()
    assert times == [0.0, 0.5, 1.0]
    out = animate(run_dir, tmp_path / "tumor.gif", fps=4)
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == len(times)
    assert frames.shape[1:3] == (640, 960)
    for f in frames:
        _non_blank(f)
    for a, b in zip(frames[:-1], frames[1:], strict=True):
        assert (a != b).any(axis=-1).mean() > 0.001  # the cells (and the title's day) change
    meta = iio.immeta(out, index=0)
    assert meta["loop"] == 0 and meta["duration"] == 250  # 4 frames per second, loops forever


def test_mp4_and_cli(run_dir, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "tumor.mp4"
    res = CliRunner().invoke(app, ["animate", str(run_dir), "--out", str(out), "--fps", "2"])
    assert res.exit_code == 0, res.output
    import imageio.v2 as iio2

    with iio2.get_reader(out, format="FFMPEG") as reader:
        meta = reader.get_meta_data()
        assert meta["codec"] == "h264" and meta["fps"] == 2.0 and meta["size"] == (960, 640)
        frames = list(reader.iter_data())
    assert len(frames) == 3
    _non_blank(frames[-1])
    assert not list(tmp_path.glob(".*partial*"))  # written atomically


def test_animate_errors(run_dir, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ModelError, match=r"\.gif or \.mp4"):
        animate(run_dir, tmp_path / "tumor.avi")
    with pytest.raises(ModelError, match="fps"):
        animate(run_dir, tmp_path / "tumor.gif", fps=0)
    res = CliRunner().invoke(app, ["animate", str(tmp_path / "nothing"), "--out", str(tmp_path / "a.gif")])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and out.startswith("error: run:") and "is not a folder" in out
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(app, ["animate", str(tmp_path / "empty"), "--out", str(tmp_path / "a.gif")])
    assert res.exit_code == 2 and "not a run directory" in " ".join(res.output.split())


def test_frames_reuse_the_spatial_map(run_dir) -> None:  # noqa: ANN001
    rd = tmesim.RunDirectory(run_dir)
    days = [day for day, _ in render_frames(run_dir)]
    assert days == rd.snapshot_times()
    fig = figures.spatial_map(rd.cells(1.0), rd.config, 1.0)
    ax = fig.axes[0]
    assert "µm" in ax.get_xlabel() and "µm" in ax.get_ylabel()
    assert ax.get_title() == "Cell types, day 1"
    shape = rd.config["model"]["domain"]["shape"]
    assert ax.get_xlim() == (0, shape[0] * 20.0) and ax.get_ylim() == (0, shape[1] * 20.0)
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    present = set(rd.cells(1.0).query("status == 'live'").cell_type.astype(str))
    assert {pretty(n, rd.config["model"]) for n in present} <= set(labels)
    assert "CD8 cytotoxic T cell" in labels and "cancer-associated fibroblast (CAF)" in labels
    assert not any("_" in s for s in labels)  # full names, not identifiers
    colors = type_colors(rd.config["model"])
    by_label = {pretty(n, rd.config["model"]): c for n, c in colors.items()}
    for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True):
        if text.get_text() in by_label:  # the palette's colour for that type
            assert mcolors.to_hex(np.atleast_2d(handle.get_facecolor())[0]) == by_label[text.get_text()].lower()
    # the map is a raster with one pixel per lattice site, in the type's colour
    img = np.asarray(ax.get_images()[0].get_array())
    live = rd.cells(1.0).query("status == 'live'")
    for row in live.sample(min(50, len(live)), random_state=0).itertuples():
        pixel = img[int(row.y_um // 20.0), int(row.x_um // 20.0)]
        assert mcolors.to_hex(pixel) == colors[str(row.cell_type)].lower()
    fig.canvas.draw()
    _non_blank(np.asarray(fig.canvas.buffer_rgba()))
    plt.close(fig)


def test_curve_and_field_figures_have_units_and_full_names(run_dir) -> None:  # noqa: ANN001
    rd = tmesim.RunDirectory(run_dir)
    fig = figures.population_curves(rd.summary(), rd.config)
    ax = fig.axes[0]
    assert "days" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "cancer" in labels and "CD8 cytotoxic T cell" in labels and not any("_" in s for s in labels)
    plt.close(fig)
    fig = figures.tissue_curves(rd.metrics())
    assert all("days" in a.get_xlabel() for a in fig.axes)
    assert any("mm²" in a.get_ylabel() for a in fig.axes)
    plt.close(fig)
    ds = rd.fields()
    fig = figures.field_maps(ds, rd.config)
    mosaic_ax = fig.axes[0]
    labels = [t.get_text() for t in mosaic_ax.texts]
    assert len(labels) == len(ds.data_vars)  # one labelled tile per substrate, with unit and range
    assert any(t.startswith("oxygen (mmHg): ") for t in labels) and any(t.startswith("TGF-β (ng/mL): ") for t in labels)
    assert "day 1" in fig._suptitle.get_text() and "µm" in fig._suptitle.get_text()
    # the first tile (top left) is the first substrate scaled to [0, 1]
    first = ds[list(ds.data_vars)[0]].isel(time=-1)
    first = np.asarray(first.isel(z=first.sizes["z"] // 2).values, dtype=float)
    mosaic = np.asarray(mosaic_ax.get_images()[0].get_array())
    ny, nx = first.shape
    top = mosaic.shape[0] - (ny + max(1, ny // 4))
    tile = mosaic[top:top + ny, :nx]
    lo, hi = first.min(), first.max()
    np.testing.assert_allclose(tile, (first - lo) / (hi - lo), atol=1e-6)
    fig.canvas.draw()
    _non_blank(np.asarray(fig.canvas.buffer_rgba()))
    plt.close(fig)
