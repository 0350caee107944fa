"""The GPU fields path (tmesim.engine.gpu) against the CPU engine.

The device kernels transcribe the numba kernels operation by operation and are compiled
without fused multiply-add, so they must give the CPU's numbers. Two ways to check that:

* the same CUDA source compiled for the host (``hostsim``; needs only a C++ compiler), which
  checks the kernels and the code that drives them here, without a GPU;
* on a CUDA GPU with CuPy (tests marked ``gpu``; skipped without one).

Tolerance of the GPU comparisons: IEEE float64 add, multiply, divide and square root are
correctly rounded on both sides, so the expected difference is zero, and the tests assert
equality of the cells (same rule outcomes). For the fields they allow
``FIELD_RTOL × max|field|``: a difference of one float32 rounding per step (2⁻²⁴ relative)
does not grow, since every LOD solve and the coupled solve are contractions in the max norm
(M-matrices with row sums ≤ 1), so a few steps stay far below 1e-5; a larger difference
means a kernel computes something else.
"""

from __future__ import annotations

import numpy as np
import pytest

import tmesim
from conftest import build, small_dict
from tmesim.engine import Simulation
from tmesim.engine.diffusion import diffuse
from tmesim.engine.gpu import field_solver
from tmesim.engine.gpu.fields import DeviceFieldSolver
from tmesim.engine.gpu.hostsim import HostDevice, host_compiler
from tmesim.engine.gpu.lod import diffuse_device
from tmesim.engine.gpu.multigrid import DeviceMultigrid
from tmesim.engine.multigrid import mg_solve
from tmesim.model import ModelError

FIELD_RTOL = 1e-5
CELL_ARRAYS = ("uid", "ctype", "cx", "cy", "cz", "dead", "var")


@pytest.fixture(scope="module")
def host() -> HostDevice:
    if host_compiler() is None:
        pytest.skip("no C++ compiler for the host build of the kernels")
    return HostDevice()


@pytest.fixture(scope="module")
def cuda():  # noqa: ANN201 - CupyDevice (cupy is optional)
    pytest.importorskip("cupy")
    from tmesim.engine.gpu import cuda_device, gpu_available

    if not gpu_available():
        pytest.skip("no CUDA GPU")
    return cuda_device()


def _lod_case(dev, shape: tuple[int, ...], transpose_x: bool, steps: int = 3) -> tuple:  # noqa: ANN001
    rng = np.random.default_rng(7)
    cpu = rng.random(shape, dtype=np.float32) * 3
    S = shape[0]
    D = rng.uniform(100, 3000, S)
    lam = rng.uniform(0, 0.01, S)
    dirichlet = np.arange(S) % 2 == 0
    bval = rng.random(S)
    gpu = dev.upload(cpu)
    for _ in range(steps):
        diffuse(cpu, D, lam, dirichlet, bval, 6.0, 20.0)
        diffuse_device(dev, gpu, D, lam, dirichlet, bval, 6.0, 20.0, transpose_x=transpose_x)
    out = np.empty_like(cpu)
    dev.download(gpu, out)
    return cpu, out


def _mg_case(dev, grid: tuple[int, int, int], dirichlet: bool) -> tuple:  # noqa: ANN001
    rng = np.random.default_rng(3)
    n = int(np.prod(grid))
    d = 1.0 + 60.0 * (rng.random(n) < 0.3)  # cells (fast uptake) in tissue
    b = rng.random(n)
    x = np.zeros(n)
    it_cpu = mg_solve(x, b, d, 1500.0, grid, dirichlet)
    xd, bd, dd = dev.upload(np.zeros(n)), dev.upload(b), dev.upload(d)
    it_dev = DeviceMultigrid(dev, grid, dirichlet).solve(xd, bd, dd, 1500.0)
    out = np.empty(n)
    dev.download(xd, out)
    return it_cpu, x, it_dev, out


def _steps(model: tmesim.Model, solver_of, steps: int) -> Simulation:  # noqa: ANN001
    sim = Simulation(model, seed=3)
    if solver_of is not None:
        sim.solver = solver_of(sim.cm)
    for _ in range(steps):
        sim.step()
    return sim


# ------------------------------------------------------------------ host build of the kernels
@pytest.mark.parametrize("shape", [(2, 1, 17, 23), (3, 5, 7, 9), (1, 4, 1, 6)])
@pytest.mark.parametrize("transpose_x", [False, True])
def test_host_kernels_lod_equal_cpu(host: HostDevice, shape: tuple, transpose_x: bool) -> None:
    cpu, dev = _lod_case(host, shape, transpose_x)
    assert np.array_equal(cpu, dev)


@pytest.mark.parametrize("grid", [(1, 40, 37), (9, 10, 11), (1, 4, 4)])
@pytest.mark.parametrize("dirichlet", [False, True])
def test_host_kernels_multigrid_equal_cpu(host: HostDevice, grid: tuple, dirichlet: bool) -> None:
    it_cpu, x_cpu, it_dev, x_dev = _mg_case(host, grid, dirichlet)
    assert it_cpu == it_dev > 0
    assert np.array_equal(x_cpu, x_dev)


@pytest.mark.parametrize("dims", [2, 3])
def test_host_kernels_simulation_equal_cpu(host: HostDevice, dims: int) -> None:
    """A few engine steps (oxygen on the coupled path, cytokines on LOD): same cells, same fields."""
    model = build(small_dict(size=24 if dims == 2 else 10, dims=dims, days=0.1))
    cpu = _steps(model, None, 4)
    dev = _steps(model, lambda cm: DeviceFieldSolver(cm, host), 4)
    assert cpu.solver.coupled.any() and not cpu.solver.coupled.all()
    assert np.array_equal(cpu.solver.last_iterations, dev.solver.last_iterations)
    assert np.array_equal(cpu.fields, dev.fields)
    for name in CELL_ARRAYS:
        assert np.array_equal(getattr(cpu, name)[: cpu.n], getattr(dev, name)[: dev.n]), name


# ------------------------------------------------------------------ backend selection
def test_host_kernels_fast_solve_equal_cpu(host: HostDevice) -> None:
    """field_solve: fast on the device path: the CPU solver's keep test (run on the host
    arrays) keeps the same fields, and the steps that solve give the same fields."""
    from tmesim.engine.fields import coupled_accept, coupled_tolerance

    d = small_dict(size=24, days=0.2)
    d["field_solve"] = "fast"
    model = build(d)
    cpu, dev = Simulation(model, seed=3), Simulation(model, seed=3)
    dev.solver = DeviceFieldSolver(dev.cm, host)
    dev.solver.tolerance, dev.solver.accept = coupled_tolerance("fast"), coupled_accept("fast")
    s = cpu.cm.substrate_names.index("oxygen")
    kept = solved = 0
    for _ in range(10):
        cpu.step()
        dev.step()
        assert cpu.solver.last_iterations[s] == dev.solver.last_iterations[s]
        kept += cpu.solver.coupled[s] and cpu.solver.last_iterations[s] == 0
        solved += cpu.solver.last_iterations[s] > 0
        assert np.array_equal(cpu.fields, dev.fields)
    assert kept > 0 and solved > 0


def test_backend_gpu_without_device_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tmesim.engine.gpu.device as device

    monkeypatch.setattr(device, "_DEVICE", None)
    monkeypatch.setitem(__import__("sys").modules, "cupy", None)  # as if CuPy were not installed
    model = build(small_dict(size=12, days=0.05))
    with pytest.raises(ModelError) as err:
        tmesim.simulate(model, days=0.05, backend="gpu")
    assert err.value.field == "backend" and "CuPy" in err.value.message
    with pytest.raises(ModelError, match="allowed: cpu, gpu"):
        field_solver(Simulation(model).cm, "tpu")


def test_cli_backend_gpu_without_device(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    import tmesim.engine.gpu.device as device
    from tmesim.cli import app

    monkeypatch.setattr(device, "_DEVICE", None)
    monkeypatch.setitem(__import__("sys").modules, "cupy", None)
    res = CliRunner().invoke(app, ["run", "--preset", "tnbc-core", "--days", "0.05", "--backend",
                                   "gpu", "--out", str(tmp_path / "r")])
    assert res.exit_code != 0
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: backend:"), res.output
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ on a CUDA GPU
@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(4, 1, 300, 301), (2, 40, 41, 42)])
@pytest.mark.parametrize("transpose_x", [False, True])
def test_gpu_lod_equals_cpu(cuda, shape: tuple, transpose_x: bool) -> None:  # noqa: ANN001
    cpu, dev = _lod_case(cuda, shape, transpose_x, steps=5)
    assert np.abs(cpu - dev).max() <= FIELD_RTOL * np.abs(cpu).max()


@pytest.mark.gpu
@pytest.mark.parametrize("grid", [(1, 200, 203), (40, 41, 42)])
@pytest.mark.parametrize("dirichlet", [False, True])
def test_gpu_multigrid_equals_cpu(cuda, grid: tuple, dirichlet: bool) -> None:  # noqa: ANN001
    it_cpu, x_cpu, it_dev, x_dev = _mg_case(cuda, grid, dirichlet)
    assert abs(it_cpu - it_dev) <= 1
    assert np.abs(x_cpu - x_dev).max() <= FIELD_RTOL * np.abs(x_cpu).max()


@pytest.mark.gpu
@pytest.mark.parametrize("dims", [2, 3])
def test_gpu_simulation_equals_cpu(cuda, dims: int) -> None:  # noqa: ANN001
    model = build(small_dict(size=48 if dims == 2 else 16, dims=dims, days=0.2))
    cpu = _steps(model, None, 6)
    dev = Simulation(model, seed=3, backend="gpu")
    assert isinstance(dev.solver, DeviceFieldSolver)
    for _ in range(6):
        dev.step()
    assert np.abs(cpu.fields - dev.fields).max() <= FIELD_RTOL * np.abs(cpu.fields).max()
    for name in CELL_ARRAYS:
        assert np.array_equal(getattr(cpu, name)[: cpu.n], getattr(dev, name)[: dev.n]), name


@pytest.mark.gpu
def test_gpu_simulate_run_directory_equals_cpu(cuda, tmp_path) -> None:  # noqa: ANN001
    model = build(small_dict(size=32, days=0.25))
    a = tmesim.simulate(model, days=0.25, seed=2, out=tmp_path / "cpu")
    b = tmesim.simulate(model, days=0.25, seed=2, out=tmp_path / "gpu", backend="gpu")
    assert a.summary().equals(b.summary())
