"""Advancing the substrate fields one step, with cell secretion and uptake coupled in.

Each step solves, per substrate, the backward-Euler reaction–diffusion equation

    (1 + dt (λ + k_i)) c_i' - dt D Δ_h c' = c_i + dt q_i

where k_i = r_i + u_i is the cell's secretion-plus-uptake rate at voxel i and
q_i = r_i c*_i + e_i its source. Where dt·k is small everywhere (slow cytokine uptake) the
cell exchange is applied pointwise and followed by one LOD diffusion step (operator split,
error of order dt·k). Where it is not (oxygen: uptake ≈ 10 /min, dt = 6 min) splitting
would let oxygen penetrate tissue sqrt(1 + dt·k) times too far, so the coupled system is
solved with conjugate gradients preconditioned by the LOD diffusion operator.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .compiled import CompiledModel
from .diffusion import diffuse, thomas_coefficients

# dt·k below this everywhere → split scheme (local source/sink error of order dt·k ≤ 20 %,
# confined to the voxels of secreting cells); above it → coupled solve.
SPLIT_THRESHOLD = 0.2
CG_TOL = 1e-3
CG_MAXITER = 200


@njit(parallel=True, cache=True)
def _apply_pointwise(c, gain, loss, dt):
    for i in prange(c.shape[0]):
        c[i] = max((c[i] + dt * gain[i]) / (1.0 + dt * loss[i]), 0.0)


def _apply_A_py(x, out, diag, coef, nz, ny, nx, dirichlet):
    """out = diag*x + coef * sum over faces (x - x_neighbour); homogeneous boundary values."""
    for z in prange(nz):
        for y in range(ny):
            for xx in range(nx):
                i = (z * ny + y) * nx + xx
                v = x[i]
                acc = 0.0
                # x faces
                if xx > 0:
                    acc += v - x[i - 1]
                elif dirichlet:
                    acc += v
                if xx < nx - 1:
                    acc += v - x[i + 1]
                elif dirichlet:
                    acc += v
                if y > 0:
                    acc += v - x[i - nx]
                elif dirichlet:
                    acc += v
                if y < ny - 1:
                    acc += v - x[i + nx]
                elif dirichlet:
                    acc += v
                if nz > 1:
                    if z > 0:
                        acc += v - x[i - nx * ny]
                    elif dirichlet:
                        acc += v
                    if z < nz - 1:
                        acc += v - x[i + nx * ny]
                    elif dirichlet:
                        acc += v
                out[i] = diag[i] * v + coef * acc


@njit(parallel=True, cache=True)
def _boundary_rhs(b, value, coef, nz, ny, nx):
    """Add the Dirichlet far-field value held by the ghost voxels to the right-hand side."""
    for z in prange(nz):
        for y in range(ny):
            for xx in range(nx):
                faces = 0
                if xx == 0:
                    faces += 1
                if xx == nx - 1:
                    faces += 1
                if y == 0:
                    faces += 1
                if y == ny - 1:
                    faces += 1
                if nz > 1:
                    if z == 0:
                        faces += 1
                    if z == nz - 1:
                        faces += 1
                if faces:
                    b[(z * ny + y) * nx + xx] += coef * value * faces


BLOCK = 4096  # fixed reduction blocks: sums do not depend on the number of threads


def _dot_py(a, b):
    nblk = (a.shape[0] + BLOCK - 1) // BLOCK
    part = np.zeros(nblk)
    for k in prange(nblk):
        acc = 0.0
        for i in range(k * BLOCK, min((k + 1) * BLOCK, a.shape[0])):
            acc += a[i] * b[i]
        part[k] = acc
    total = 0.0
    for k in range(nblk):
        total += part[k]
    return total


def _lod_inverse_py(r, out, invx, wx, invy, wy, invz, wz, nz, ny, nx, scale, w):
    """out = W M⁻¹ W r for M = (1 + dt λ) Π_axes (I − dt D δ²) (Thomas sweeps along x, y, z)
    and W = diag(w): the weights shrink the correction where uptake makes the diagonal large."""
    for line in prange(nz * ny):
        o = line * nx
        out[o] = r[o] * w[o] * invx[0]
        for i in range(1, nx):
            out[o + i] = r[o + i] * w[o + i] * invx[i] + wx[i] * out[o + i - 1]
        for i in range(nx - 2, -1, -1):
            out[o + i] += wx[i] * out[o + i + 1]
    for z in prange(nz):
        o = z * ny * nx
        for x in range(nx):
            out[o + x] *= invy[0]
        for j in range(1, ny):
            for x in range(nx):
                out[o + j * nx + x] = out[o + j * nx + x] * invy[j] + wy[j] * out[o + (j - 1) * nx + x]
        for j in range(ny - 2, -1, -1):
            for x in range(nx):
                out[o + j * nx + x] += wy[j] * out[o + (j + 1) * nx + x]
    if nz > 1:
        plane = ny * nx
        for c in prange(plane):
            out[c] *= invz[0]
            for k in range(1, nz):
                out[k * plane + c] = out[k * plane + c] * invz[k] + wz[k] * out[(k - 1) * plane + c]
            for k in range(nz - 2, -1, -1):
                out[k * plane + c] += wz[k] * out[(k + 1) * plane + c]
    for i in prange(out.shape[0]):
        out[i] *= scale * w[i]


def _build(parallel: bool):
    """Compile the PCG kernels; small grids use the serial set (a parallel region costs more
    than the work there, and stalls when another process holds the cores)."""
    apply_a = njit(parallel=parallel, cache=True)(_apply_A_py)
    dot = njit(parallel=parallel, cache=True)(_dot_py)
    lod = njit(parallel=parallel, cache=True)(_lod_inverse_py)
    _apply_A, _dot, _lod_inverse = apply_a, dot, lod

    @njit
    def pcg(x, b, diag, coef, nz, ny, nx, dirichlet, invx, wx, invy, wy, invz, wz, scale, tol, maxiter, w):
        """Preconditioned conjugate gradients for the coupled reaction–diffusion system."""
        n = x.shape[0]
        r = np.empty(n)
        Ap = np.empty(n)
        _apply_A(x, Ap, diag, coef, nz, ny, nx, dirichlet)
        for i in range(n):
            r[i] = b[i] - Ap[i]
        bnorm = np.sqrt(_dot(b, b))
        if bnorm == 0.0:
            bnorm = 1.0
        if np.sqrt(_dot(r, r)) <= tol * bnorm:
            return 0
        z = np.empty(n)
        _lod_inverse(r, z, invx, wx, invy, wy, invz, wz, nz, ny, nx, scale, w)
        p = z.copy()
        rz = _dot(r, z)
        for it in range(1, maxiter + 1):
            _apply_A(p, Ap, diag, coef, nz, ny, nx, dirichlet)
            alpha = rz / _dot(p, Ap)
            for i in range(n):
                x[i] += alpha * p[i]
                r[i] -= alpha * Ap[i]
            if np.sqrt(_dot(r, r)) <= tol * bnorm:
                return it
            _lod_inverse(r, z, invx, wx, invy, wy, invz, wz, nz, ny, nx, scale, w)
            rz_new = _dot(r, z)
            beta = rz_new / rz
            rz = rz_new
            for i in range(n):
                p[i] = z[i] + beta * p[i]
        return maxiter



    return apply_a, pcg


SERIAL_BELOW = 1 << 17
_, _pcg_serial = _build(False)
_, _pcg_parallel = _build(True)


class FieldSolver:
    """Holds the per-step exchange arrays and advances all substrates."""

    def __init__(self, cm: CompiledModel) -> None:
        self.cm = cm
        nz, ny, nx = cm.grid
        n = nz * ny * nx
        self.gain = np.zeros((cm.n_sub, n), np.float32)
        self.loss = np.zeros((cm.n_sub, n), np.float32)
        self.coupled = np.zeros(cm.n_sub, bool)
        self.last_iterations = np.zeros(cm.n_sub, np.int64)

    def begin_step(self) -> None:
        self.gain[:] = 0.0
        self.loss[:] = 0.0

    def advance(self, fields: np.ndarray) -> None:
        cm = self.cm
        S = cm.n_sub
        flat = fields.reshape(S, -1)
        dt = cm.dt
        split = []
        for s in range(S):
            kmax = float(self.loss[s].max()) if self.loss.shape[1] else 0.0
            self.coupled[s] = kmax * dt > SPLIT_THRESHOLD
            if self.coupled[s]:
                self._solve_coupled(s, fields)
            else:
                _apply_pointwise(flat[s], self.gain[s], self.loss[s], dt)
                split.append(s)
        if split:
            idx = np.array(split)
            if len(idx) == S:
                diffuse(fields, cm.diffusion, cm.decay, cm.dirichlet, cm.boundary_value, dt, cm.dx)
            else:
                sub = np.ascontiguousarray(fields[idx])
                diffuse(sub, cm.diffusion[idx], cm.decay[idx], cm.dirichlet[idx], cm.boundary_value[idx], dt, cm.dx)
                fields[idx] = sub

    def _solve_coupled(self, s: int, fields: np.ndarray) -> None:
        cm = self.cm
        nz, ny, nx = cm.grid
        dt, D, lam = cm.dt, float(cm.diffusion[s]), float(cm.decay[s])
        coef = dt * D / cm.dx**2
        dirichlet = bool(cm.dirichlet[s])
        x = fields[s].reshape(-1).astype(np.float64)
        diag = 1.0 + dt * (lam + self.loss[s].astype(np.float64))
        b = x + dt * self.gain[s].astype(np.float64)
        if dirichlet:
            _boundary_rhs(b, float(cm.boundary_value[s]), coef, nz, ny, nx)
        # Diagonal scaling: ratio of the Jacobi diagonals with and without cell exchange.
        ndim = 3 if nz > 1 else 2
        base = 1.0 + dt * lam + 2 * ndim * coef
        w = 1.0 / np.sqrt((diag + 2 * ndim * coef) / base)
        invx, wx = thomas_coefficients(nx, coef, dirichlet)
        invy, wy = thomas_coefficients(ny, coef, dirichlet)
        invz, wz = thomas_coefficients(nz, coef if nz > 1 else 0.0, dirichlet)
        pcg = _pcg_serial if x.shape[0] < SERIAL_BELOW else _pcg_parallel
        self.last_iterations[s] = pcg(x, b, diag, coef, nz, ny, nx, dirichlet, invx, wx, invy, wy,
                                       invz, wz, 1.0 / (1.0 + dt * lam), CG_TOL, CG_MAXITER, w)
        np.maximum(x, 0.0, out=x)
        fields[s] = x.reshape(nz, ny, nx).astype(np.float32)
