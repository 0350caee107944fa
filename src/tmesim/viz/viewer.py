"""The interactive viewer of a run: one self-contained ``viewer.html``, and a local server for it.

The page is hand-written HTML + JavaScript drawing on a ``<canvas>``; the run's data is
embedded in it as JSON, so it needs no library, no network and no server (it also works when
opened as a file). It has a time slider (with play), a checkbox per cell type (and dead cells),
a dropdown of substrate fields drawn as a heat map under the cells, and a read-out of the site
under the mouse.

Data in the page (format ``tmesim-viewer/1``), per snapshot:

* cells: a ``ny × nx`` grid of uint8 codes (0 empty, ``k`` the k-th cell type, 255 dead) for
  the lattice (its central z slice in 3D);
* fields: each substrate at the same time (nearest output), block-averaged down to at most
  ``field_max`` sites per side and quantized to uint8 between the field's minimum and maximum
  over the whole run (one colour scale for all times, so changes over time are visible).

Each array is stored for all snapshots at once, zlib-compressed (the browser's
``DecompressionStream('deflate')`` unpacks it) and base64-encoded: the 160×160 default run with
21 substrates and 8 daily snapshots (7 days, 23,000 cells) gives a page of about 0.7 MB.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import socketserver
import threading
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from tmesim.io import ModelError, RunDirectory
from tmesim.io.atomic import atomic_write_text

from ._viewer_page import PAGE
from .palette import pretty, type_colors

FORMAT = "tmesim-viewer/1"
DEAD = 255
DEAD_COLOR = "#DDDDDD"


def _pack(arr: np.ndarray) -> str:
    """uint8 array → zlib → base64 text."""
    return base64.b64encode(zlib.compress(np.ascontiguousarray(arr, dtype=np.uint8).tobytes(), 9)).decode("ascii")


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean over f×f blocks of the last two axes (edges padded by repetition)."""
    if f == 1:
        return a
    ny, nx = a.shape[-2:]
    py, px = -ny % f, -nx % f
    if py or px:
        a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(0, py), (0, px)], mode="edge")
    ny, nx = a.shape[-2:]
    return a.reshape(*a.shape[:-2], ny // f, f, nx // f, f).mean(axis=(-3, -1))


def _viridis() -> list[str]:
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].resampled(256)
    return [matplotlib.colors.to_hex(cmap(i)) for i in range(256)]


def viewer_data(run_dir: str | Path, field_max: int = 100) -> dict[str, Any]:
    """The data the viewer page embeds (see the module docstring for the layout)."""
    rd = RunDirectory(run_dir)
    cfg = rd.config
    model = cfg["model"]
    dom = model["domain"]
    dx = float(dom["site_size"]["value"])
    nx, ny = int(dom["shape"][0]), int(dom["shape"][1])
    dims = int(dom["dims"])
    times = rd.snapshot_times()
    if not times:
        raise ModelError("run", f"{str(rd.path)!r} has no cell snapshots to view")
    names = [ct["name"] for ct in model["cell_types"]]
    if len(names) >= DEAD:
        raise ModelError("run", f"the viewer shows at most {DEAD - 1} cell types, this model has {len(names)}")
    code = {n: i + 1 for i, n in enumerate(names)}
    colors = type_colors(model)
    z_slice = (int(dom["shape"][2]) // 2 + 0.5) * dx if dims == 3 else None

    grids = np.zeros((len(times), ny, nx), dtype=np.uint8)
    for t, day in enumerate(times):
        c = rd.cells(day)
        if z_slice is not None:
            c = c[np.isclose(c.z_um, z_slice)]
        ix = np.clip((c.x_um.to_numpy() / dx).astype(int), 0, nx - 1)
        iy = np.clip((c.y_um.to_numpy() / dx).astype(int), 0, ny - 1)
        live = (c.status == "live").to_numpy()
        types = c.cell_type.astype(str).map(code).fillna(0).astype(np.uint8).to_numpy()
        grids[t, iy[~live], ix[~live]] = DEAD  # dead first: a live cell on the same site wins
        grids[t, iy[live], ix[live]] = types[live]

    fields_out: list[dict[str, Any]] = []
    field_index = [0] * len(times)
    store = rd.path / "fields.zarr"
    if store.exists():
        ds = rd.fields()
        ftimes = np.asarray(ds["time"].values, dtype=float)
        if len(ftimes):
            field_index = [int(np.argmin(np.abs(ftimes - day))) for day in times]
            units = {s["name"]: s.get("unit", "") for s in model.get("substrates", [])}
            for name in ds.data_vars:
                da = ds[name]
                if "z" in da.dims:
                    da = da.isel(z=da.sizes["z"] // 2)
                vals = np.asarray(da.transpose("time", "y", "x").values, dtype=np.float64)
                f = max(1, -(-max(vals.shape[1:]) // int(field_max)))
                vals = _block_mean(vals, f)
                finite = vals[np.isfinite(vals)]
                lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
                q = np.zeros(vals.shape, dtype=np.uint8)
                if hi > lo:
                    q = np.clip(np.rint((np.nan_to_num(vals, nan=lo) - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
                fields_out.append({
                    "name": str(name), "label": pretty(str(name)),
                    "unit": str(da.attrs.get("units", units.get(str(name), ""))),
                    "min": lo, "max": hi, "nx": int(q.shape[2]), "ny": int(q.shape[1]), "dx": dx * f,
                    "data": _pack(q),
                })
    return {
        "format": FORMAT,
        "name": model["name"], "description": model.get("description", ""),
        "seed": cfg.get("seed"), "tmesim_version": cfg.get("tmesim_version"),
        "dims": dims, "z_slice_um": z_slice, "dx": dx, "nx": nx, "ny": ny,
        "times": times,
        "types": [{"name": n, "label": pretty(n, model), "color": colors[n]} for n in names],
        "dead": {"code": DEAD, "label": "dead cell", "color": DEAD_COLOR},
        "cells": _pack(grids),
        "field_index": field_index,
        "fields": fields_out,
        "colormap": _viridis(),
    }


def write_viewer(run_dir: str | Path, field_max: int = 100) -> Path:
    """Write the self-contained interactive ``viewer.html`` into a run directory; return its path.

    ``field_max``: substrate fields are block-averaged to at most this many sites per side
    (cells are always shown at full lattice resolution).
    """
    data = viewer_data(run_dir, field_max=field_max)
    # "<" escaped so that no "</script>" in a model's text can end the data block
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    title = f"tmesim viewer: {data['name']}"
    import html

    page = PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", blob)
    out = Path(run_dir) / "viewer.html"
    atomic_write_text(out, page)
    return out


class _RunFileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the run directory's regular files, read-only, to this machine's browser only.

    * a path is resolved (symbolic links followed) and must stay inside the run directory and
      name a regular file: a link to ``/etc/passwd`` or ``..`` gets 404, a folder gets 404
      (no listings);
    * the ``Host`` header must be the bound address or ``localhost`` (with the port): a web page
      elsewhere that points its own host name at 127.0.0.1 (DNS rebinding) gets 421.
    """

    root: Path
    allowed_hosts: frozenset[str]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a rewritten viewer.html shows on reload
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def send_head(self):  # noqa: ANN201 - the base class's signature
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.allowed_hosts:
            self.send_error(421, "Misdirected Request", "this viewer answers only to localhost")
            return None
        path = Path(self.translate_path(self.path))
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            real = None
        if real is None or not real.is_relative_to(self.root) or not real.is_file():
            self.send_error(404, "File not found")
            return None
        self.path = "/" + real.relative_to(self.root).as_posix()  # the checked file, nothing else
        return super().send_head()

    def list_directory(self, path):  # noqa: ANN001, ANN201 - never reached; refuse anyway
        self.send_error(404, "File not found")
        return None


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use is an error, not shared


def make_server(run_dir: str | Path, port: int = 8765, host: str = "127.0.0.1") -> http.server.HTTPServer:
    """An HTTP server of the run directory's files on ``host:port`` (port 0: a free one); not started.

    Bound to the loopback address by default: the run is not exposed to the network.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ModelError("RUN_DIR", f"{str(path)!r} is not a folder")
    root = path.resolve()
    handler_cls = type("RunFileHandler", (_RunFileHandler,), {"root": root, "allowed_hosts": frozenset()})
    handler = functools.partial(handler_cls, directory=str(root))
    try:
        server = _Server((host, port), handler)
    except OSError as exc:
        raise ModelError("--port", f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                         "choose another --port (0 picks a free one)") from exc
    bound = server.server_address[1]
    names = {host.lower(), "localhost", "127.0.0.1", "[::1]"}
    handler_cls.allowed_hosts = frozenset(n for name in names for n in (name, f"{name}:{bound}"))
    return server


def server_url(server: http.server.HTTPServer, page: str = "viewer.html") -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/{page}"


def serve(run_dir: str | Path, port: int = 8765, open_browser: bool = True, host: str = "127.0.0.1",
          write: bool = True, announce=print) -> None:  # noqa: ANN001 - announce: str -> None
    """Write ``viewer.html`` (unless ``write`` is false), serve the run directory on
    ``host:port`` and open the viewer in the default browser; runs until Ctrl-C."""
    if write:
        write_viewer(run_dir)
    elif not (Path(run_dir) / "viewer.html").exists():
        raise ModelError("RUN_DIR", f"{str(run_dir)!r} has no viewer.html")
    server = make_server(run_dir, port, host)
    url = server_url(server)
    announce(url)
    if open_browser:
        import webbrowser

        threading.Timer(0.3, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
