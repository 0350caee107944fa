"""Tests of the LOD implicit diffusion-decay solver (``tmesim.engine.diffusion``).

Every assertion message states its tolerance.  Units: µm, minutes.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy.special import k0

from tmesim.engine.diffusion import diffuse, thomas_coefficients, total_mass

DX = 10.0  # µm


def _params(nsub: int, d: float, lam: float = 0.0, dirichlet: bool = False, b: float = 0.0):
    return (np.full(nsub, d), np.full(nsub, lam), np.full(nsub, dirichlet), np.full(nsub, b))


# ---------------------------------------------------------------------------------------
# reference: the same LOD implicit Euler step with dense float64 solves
# ---------------------------------------------------------------------------------------
def _dense_1d(n: int, r: float, dirichlet: bool) -> np.ndarray:
    a = np.diag(np.full(n, 1.0 + 2.0 * r)) - r * np.eye(n, k=1) - r * np.eye(n, k=-1)
    if not dirichlet:
        a[0, 0] -= r
        a[-1, -1] -= r
    return a


def _reference_step(u, diffusion, decay, dirichlet, bval, dt, dx):
    u = u.astype(np.float64)
    axes = [3, 2] + ([1] if u.shape[1] > 1 else [])
    for s in range(u.shape[0]):
        r = dt * diffusion[s] / dx**2
        v = u[s]
        for ax in axes:
            n = u.shape[ax]
            a = _dense_1d(n, r, bool(dirichlet[s]))
            rhs = np.moveaxis(v, ax - 1, 0).reshape(n, -1).copy()
            if dirichlet[s]:
                rhs[0] += r * bval[s]
                rhs[-1] += r * bval[s]
            sol = np.linalg.solve(a, rhs)
            v = np.moveaxis(sol.reshape(np.moveaxis(v, ax - 1, 0).shape), 0, ax - 1)
        u[s] = v / (1.0 + dt * decay[s])
    return u


# the last two shapes are above the single-thread threshold: parallel, chunked y/z sweeps
@pytest.mark.parametrize(
    "shape",
    [(3, 1, 13, 17), (2, 7, 5, 9), (2, 1, 1, 6), (1, 3, 4, 1), (1, 1, 301, 450), (2, 23, 40, 75)],
)
def test_matches_dense_reference(shape):
    rng = np.random.default_rng(1)
    nsub = shape[0]
    u = rng.random(shape, dtype=np.float32)
    diffusion = rng.uniform(10.0, 3000.0, nsub)
    decay = rng.uniform(0.0, 0.5, nsub)
    dirichlet = np.arange(nsub) % 2 == 0
    bval = rng.uniform(0.0, 2.0, nsub)
    dt = 0.7
    ref = _reference_step(u, diffusion, decay, dirichlet, bval, dt, DX)
    diffuse(u, diffusion, decay, dirichlet, bval, dt, DX)
    np.testing.assert_allclose(
        u, ref, rtol=1e-5, atol=1e-6, err_msg="differs from dense LOD reference (rtol 1e-5)"
    )


def test_thread_count_does_not_change_result():
    rng = np.random.default_rng(5)
    u = rng.random((3, 9, 70, 90), dtype=np.float32)
    args = (
        np.array([50.0, 800.0, 3000.0]),
        np.array([0.0, 0.1, 0.01]),
        np.array([True, False, True]),
        np.array([1.0, 0.0, 0.3]),
        0.4,
        DX,
    )
    single = u.copy()
    diffuse(u, *args)
    nthreads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        diffuse(single, *args)
    finally:
        numba.set_num_threads(nthreads)
    assert np.array_equal(u, single), "parallel and 1-thread results must be bitwise equal"


def test_coefficients_positive_and_cached():
    inv, w = thomas_coefficients(50, 3.0, False)
    assert np.all(inv > 0) and np.all(w >= 0), "elimination factors must be non-negative"
    assert thomas_coefficients(50, 3.0, False)[0] is inv, "factors must be cached"
    assert not inv.flags.writeable, "cached factors must be read-only"
    # huge r (dt = 1e4 min with a fast diffuser and fine lattice): no overflow of r², and
    # no cancellation in the last no-flux pivot (exactly (1 + 2r)/(1 + r) for n = 2)
    for r in (1e9, 1e20, 1e200):
        for dirichlet in (False, True):
            inv, w = thomas_coefficients(7, r, dirichlet)
            assert np.all(np.isfinite(inv) & (inv > 0)), f"bad pivots for r={r:g}"
            assert np.all(np.isfinite(w) & (w >= 0)), f"bad factors for r={r:g}"
    inv, _ = thomas_coefficients(2, 1e20, False)
    assert abs(inv[1] * 2.0 - 1.0) < 1e-12, "last no-flux pivot must be ~2 for r=1e20 (rel 1e-12)"


# ---------------------------------------------------------------------------------------
# 1. mass balance
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 1, 64, 48), (2, 16, 20, 24)], ids=["2D", "3D"])
def test_mass_conserved_no_flux(shape):
    rng = np.random.default_rng(2)
    nsub = shape[0]
    u = rng.random(shape, dtype=np.float32)
    u[:, :, : shape[2] // 3] *= 5.0  # strong gradients
    diffusion = np.array([10.0, 1.0e3, 1.0e5])[:nsub]
    m0 = total_mass(u, DX)
    for k in range(200):
        dt = [0.1, 1.0, 10.0, 100.0, 1000.0][k % 5]  # includes r = dt·D/dx² up to 1e6
        diffuse(u, diffusion, np.zeros(nsub), np.zeros(nsub, bool), np.zeros(nsub), dt, DX)
    rel = np.abs(total_mass(u, DX) / m0 - 1.0)
    assert np.all(rel < 1e-5), f"relative mass drift {rel} exceeds 1e-5"
    assert u.min() >= 0.0, "negative concentration produced"


def test_total_mass_voxel_volume():
    u = np.ones((2, 1, 4, 5), np.float32)
    u[1] *= 2.0
    np.testing.assert_allclose(
        total_mass(u, 3.0),
        [20 * 27.0, 40 * 27.0],
        rtol=1e-12,
        err_msg="2D voxel volume must be dx**3 (rtol 1e-12)",
    )
    u3 = np.ones((1, 2, 3, 4), np.float32)
    np.testing.assert_allclose(
        total_mass(u3, 2.0),
        [24 * 8.0],
        rtol=1e-12,
        err_msg="3D voxel volume must be dx**3 (rtol 1e-12)",
    )


# ---------------------------------------------------------------------------------------
# 2. steady state around a point source with decay vs free-space Green's functions
# ---------------------------------------------------------------------------------------
def _point_source_steady(dim: int, half: int, d: float, lam: float, dt: float, q: float):
    n = 2 * half + 1
    shape = (1, 1, n, n) if dim == 2 else (1, n, n, n)
    centre = (0, 0, half, half) if dim == 2 else (0, half, half, half)
    u = np.zeros(shape, np.float32)
    args = _params(1, d, lam, dirichlet=True, b=0.0)
    # slowest mode relaxes at rate >= lam: 12/lam leaves e^-12 of the transient
    for _ in range(int(np.ceil(12.0 / (lam * dt)))):
        u[centre] += q * dt
        diffuse(u, *args, dt, DX)
    grid = np.mgrid[tuple(slice(-half, half + 1) for _ in range(dim))].astype(float)
    r = np.sqrt((grid**2).sum(0)) * DX
    return u.reshape(r.shape), r


def _shell_errors(u, analytic, r):
    """Mean relative error on 1-voxel-wide shells at 3..15 voxels (averages out the
    lattice anisotropy of the discrete Green's function)."""
    out = []
    for s in range(3, 16):
        m = (r >= (s - 0.5) * DX) & (r < (s + 0.5) * DX)
        out.append(np.mean(u[m] / analytic(r[m])) - 1.0)
    return np.array(out)


def test_point_source_steady_state_2d():
    d, lam, q = 1000.0, 0.1, 1.0  # L = sqrt(D/λ) = 100 µm = 10 voxels; domain ±60 voxels
    big_l = np.sqrt(d / lam)
    u, r = _point_source_steady(2, 60, d, lam, dt=0.05, q=q)

    def analytic(rr):
        return q * DX**2 / (2 * np.pi * d) * k0(rr / big_l)

    err = _shell_errors(u, analytic, r)
    assert np.all(np.abs(err) < 0.05), f"2D radial profile off by {err} (tolerance 5% rel)"
    m = (r >= 3 * DX) & (r <= 15 * DX)
    pointwise = np.abs(u[m] / analytic(r[m]) - 1.0).max()
    assert pointwise < 0.05, f"2D pointwise error {pointwise:.3f} (tolerance 5% rel)"


def test_point_source_steady_state_3d():
    d, lam, q = 1000.0, 0.4, 1.0  # L = 50 µm = 5 voxels; domain ±22 voxels
    big_l = np.sqrt(d / lam)
    u, r = _point_source_steady(3, 22, d, lam, dt=0.05, q=q)

    def analytic(rr):
        return q * DX**3 / (4 * np.pi * d * rr) * np.exp(-rr / big_l)

    err = _shell_errors(u, analytic, r)
    assert np.all(np.abs(err) < 0.05), f"3D radial profile off by {err} (tolerance 5% rel)"


# ---------------------------------------------------------------------------------------
# 3. decay only
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 1, 8, 9), (2, 4, 5, 6)], ids=["2D", "3D"])
def test_decay_only_uniform(shape):
    lam = np.array([0.3, 0.01])
    u0 = 3.0
    u = np.full(shape, u0, np.float32)
    dt, n = 0.5, 100
    for _ in range(n):
        diffuse(u, np.array([500.0, 0.0]), lam, np.zeros(2, bool), np.zeros(2), dt, DX)
    exact = u0 / (1.0 + dt * lam) ** n
    for s in range(2):
        np.testing.assert_allclose(
            u[s], exact[s], rtol=2e-5, err_msg="decay must equal u0/(1+dt·λ)^n (rtol 2e-5)"
        )
    # small dt: implicit decay approaches exp(-λt); error ≈ n(dtλ)²/2 = 5e-4 here
    u = np.full((1, 1, 4, 4), u0, np.float32)
    dt, n, lam1 = 0.01, 1000, 0.1
    for _ in range(n):
        diffuse(u, np.array([100.0]), np.array([lam1]), np.zeros(1, bool), np.zeros(1), dt, DX)
    np.testing.assert_allclose(
        u,
        u0 * np.exp(-lam1 * dt * n),
        rtol=1e-3,
        err_msg="small-dt decay must approach exp(-λt) (rtol 1e-3)",
    )


# ---------------------------------------------------------------------------------------
# 4. Dirichlet far field
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 1, 40, 30), (1, 12, 10, 14)], ids=["2D", "3D"])
def test_dirichlet_relaxes_to_boundary_value(shape):
    rng = np.random.default_rng(3)
    nsub = shape[0]
    u = rng.random(shape, dtype=np.float32) * 10.0
    bval = np.array([2.0, 0.0])[:nsub]
    for _ in range(300):
        diffuse(u, np.full(nsub, 2000.0), np.zeros(nsub), np.ones(nsub, bool), bval, 5.0, DX)
    for s in range(nsub):
        np.testing.assert_allclose(
            u[s],
            bval[s],
            rtol=0,
            atol=1e-4,
            err_msg="field must relax to the far-field value (atol 1e-4)",
        )


# ---------------------------------------------------------------------------------------
# 5. unconditional stability and positivity
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 1, 50, 60), (2, 10, 12, 14)], ids=["2D", "3D"])
def test_huge_dt_stable_nonnegative_bounded(shape):
    rng = np.random.default_rng(4)
    u = np.zeros(shape, np.float32)
    mask = rng.random(shape) < 0.02
    u[mask] = rng.random(int(mask.sum())).astype(np.float32) * 1e3  # isolated spikes
    umax = float(u.max())
    bval = np.array([0.0, 5.0])
    for _ in range(10):
        diffuse(
            u, np.array([1e5, 1e5]), np.array([0.0, 1e-3]), np.array([False, True]), bval, 1.0e4, DX
        )
        assert np.all(np.isfinite(u)), "non-finite values for dt = 1e4 min"
        assert u.min() >= 0.0, f"negative value {u.min()} for dt = 1e4 min"
        # discrete maximum principle of the M-matrix solves (rel 1e-6 for rounding)
        assert u.max() <= max(umax, bval.max()) * (1 + 1e-6), "maximum principle violated"


def test_nonnegative_with_zero_dirichlet_and_spikes():
    u = np.zeros((1, 1, 31, 31), np.float32)
    u[0, 0, 15, 15] = 1.0
    u[0, 0, 0, 0] = 1e-30  # tiny values must not round to negative
    for dt in (1e-3, 0.1, 10.0, 1e3):
        diffuse(u, *_params(1, 1000.0, 0.05, dirichlet=True, b=0.0), dt, DX)
        assert u.min() >= 0.0, f"negative value {u.min()} (tolerance: exactly >= 0)"


# ---------------------------------------------------------------------------------------
# 6. spreading of a Gaussian: variance grows by 2·D·t per axis
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dim", "half", "sigma", "dt", "steps"),
    [(2, 60, 4.0, 0.5, 20), (3, 20, 2.5, 0.2, 5)],
    ids=["2D", "3D"],
)
def test_gaussian_variance_growth(dim, half, sigma, dt, steps):
    d = 1000.0  # D/dx² = 10 /min
    n = 2 * half + 1
    grid = np.mgrid[tuple(slice(-half, half + 1) for _ in range(dim))].astype(float)
    g = np.exp(-(grid**2).sum(0) / (2 * sigma**2))
    u = g.reshape((1, 1, n, n) if dim == 2 else (1, n, n, n)).astype(np.float32)

    def variances(field):
        f = field.reshape(g.shape).astype(np.float64)
        return np.array([(f * grid[a] ** 2).sum() / f.sum() for a in range(dim)]) * DX**2

    var0 = variances(u)
    for _ in range(steps):
        diffuse(u, *_params(1, d), dt, DX)
    expected = var0 + 2 * d * dt * steps
    np.testing.assert_allclose(
        variances(u), expected, rtol=0.01, err_msg="variance must grow by 2·D·t per axis (rtol 1%)"
    )


# ---------------------------------------------------------------------------------------
# input checking
# ---------------------------------------------------------------------------------------
def test_rejects_bad_input():
    args = _params(1, 100.0)
    with pytest.raises(TypeError):
        diffuse(np.zeros((1, 1, 4, 4)), *args, 1.0, DX)  # float64 field
    with pytest.raises(ValueError):
        diffuse(np.zeros((1, 1, 4, 8), np.float32)[..., ::2], *args, 1.0, DX)  # strided
    with pytest.raises(ValueError):
        diffuse(np.zeros((2, 1, 4, 4), np.float32), *args, 1.0, DX)  # S mismatch
    with pytest.raises(ValueError):
        diffuse(np.zeros((1, 1, 4, 4), np.float32), *args, -1.0, DX)  # negative dt
