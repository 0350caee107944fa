"""CUDA C source of the device kernels (fields: LOD sweeps, cell exchange, multigrid).

Long module: one CUDA translation unit (compiled once by NVRTC, or once by the host compiler
for the checks); splitting it would only mean concatenating the parts again.

Hand-written rather than generated: each kernel is a line-by-line transcription of a numba
kernel of ``engine.diffusion``, ``engine.fields`` or ``engine.multigrid``, with the same
operations in the same order, compiled without fused multiply-add (``--fmad=false``), so that
the device computes the same IEEE float64 numbers as the CPU engine (numba compiles with
``fastmath=False``, i.e. no contraction either). Cross-thread work keeps the CPU's order:
red-black half-sweeps only read the other colour, norms are the same per-row partial sums
(four interleaved accumulators), added up in row order by the caller.

Every kernel is a grid-stride loop over ``tid < n`` whose iterations are independent, so the
same source compiled for the host with ``TMESIM_HOST`` defined (one thread, ``tid`` from 0 to
n − 1) gives the same results: :mod:`tmesim.engine.gpu.hostsim` uses that to check this source
on machines without a GPU.
"""

SOURCE = r"""
typedef long long i64;
#ifdef TMESIM_HOST
#include <math.h>
#define KERNEL extern "C"
#define TID0 0
#define TSTEP 1
#else
#define KERNEL extern "C" __global__
#define TID0 ((i64)blockIdx.x * (i64)blockDim.x + (i64)threadIdx.x)
#define TSTEP ((i64)blockDim.x * (i64)gridDim.x)
#endif
#define FOR_TID(n) for (i64 tid = TID0; tid < (i64)(n); tid += TSTEP)

/* ---------------------------------------------------------------- diffusion (LOD) */

/* Thomas solve along one axis of every line (engine.diffusion._sweep_rows when carry64,
   _sweep_planes otherwise). Line tid starts at (tid / inner) * n * inner + tid % inner and
   steps by inner; substrate tid / lines_per_sub. */
KERNEL void lod_sweep(i64 nlines, float* u, const double* inv, const double* w,
                      const double* bterm, const double* post, i64 n, i64 inner,
                      i64 lines_per_sub, int carry64)
{
    FOR_TID(nlines) {
        i64 s = tid / lines_per_sub;
        float* x = u + (tid / inner) * (n * inner) + (tid % inner);
        const double* ia = inv + s * n;
        const double* wa = w + s * n;
        double bt = bterm[s];
        double f = post[s];
        if (carry64) {
            double p = ((double)x[0] + bt) * ia[0];
            x[0] = (float)p;
            for (i64 i = 1; i < n; i++) {
                p = (double)x[i * inner] * ia[i] + wa[i] * p;
                x[i * inner] = (float)p;
            }
            double a = bt * ia[n - 1];
            p = f * (p + a);
            x[(n - 1) * inner] = (float)p;
            for (i64 i = n - 2; i >= 0; i--) {
                p = f * (double)x[i * inner] + wa[i] * p;
                x[i * inner] = (float)p;
            }
        } else {
            x[0] = (float)(((double)x[0] + bt) * ia[0]);
            for (i64 i = 1; i < n; i++)
                x[i * inner] = (float)((double)x[i * inner] * ia[i]
                                       + wa[i] * (double)x[(i - 1) * inner]);
            double a = bt * ia[n - 1];
            x[(n - 1) * inner] = (float)(f * ((double)x[(n - 1) * inner] + a));
            for (i64 i = n - 2; i >= 0; i--)
                x[i * inner] = (float)(f * (double)x[i * inner]
                                       + wa[i] * (double)x[(i + 1) * inner]);
        }
    }
}

/* ---------------------------------------------------------------- cell exchange */

KERNEL void exchange_pointwise(i64 n, float* c, const float* gain, const float* loss, double dt)
{
    FOR_TID(n) {
        double v = ((double)c[tid] + dt * (double)gain[tid]) / (1.0 + dt * (double)loss[tid]);
        c[tid] = (float)(v > 0.0 ? v : 0.0);
    }
}

KERNEL void coupled_prepare(i64 n, const float* field, const float* gain, const float* loss,
                            double dt, double lam, double* x, double* diag, double* b)
{
    FOR_TID(n) {
        double c = (double)field[tid];
        x[tid] = c;
        diag[tid] = 1.0 + dt * (lam + (double)loss[tid]);
        b[tid] = c + dt * (double)gain[tid];
    }
}

KERNEL void boundary_rhs(i64 n, double* b, double value, double coef, i64 nz, i64 ny, i64 nx)
{
    FOR_TID(n) {
        i64 xx = tid % nx;
        i64 y = (tid / nx) % ny;
        i64 z = tid / (nx * ny);
        i64 faces = 0;
        if (xx == 0) faces += 1;
        if (xx == nx - 1) faces += 1;
        if (y == 0) faces += 1;
        if (y == ny - 1) faces += 1;
        if (nz > 1) {
            if (z == 0) faces += 1;
            if (z == nz - 1) faces += 1;
        }
        if (faces) b[tid] += coef * value * (double)faces;
    }
}

KERNEL void coupled_finish(i64 n, const double* x, float* field)
{
    FOR_TID(n) {
        double v = x[tid];
        field[tid] = (float)(v < 0.0 ? 0.0 : v);
    }
}

/* ---------------------------------------------------------------- multigrid */

KERNEL void mg_fill(i64 n, double* a, double v)
{
    FOR_TID(n) a[tid] = v;
}

KERNEL void mg_scale(i64 n, double* dst, const double* src, double coef)
{
    FOR_TID(n) dst[tid] = coef * src[tid];
}

/* cell tid of the colour-restricted launch: rows of ceil(nx/2) candidates */
#define COLOUR_CELL(color)                                                    \
    i64 half = (nx + 1) / 2;                                                  \
    i64 line = tid / half;                                                    \
    i64 z = line / ny;                                                        \
    i64 y = line - z * ny;                                                    \
    i64 xx = (((color) + y + z) & 1) + 2 * (tid - line * half);               \
    if (xx >= nx) continue;

KERNEL void mg_smooth(i64 nthreads, double* x, const double* b, const double* invd,
                      const double* lz, const double* hz, const double* ly, const double* hy,
                      const double* lx, const double* hx, i64 nz, i64 ny, i64 nx, i64 color)
{
    i64 plane = nx * ny;
    i64 last = nx - 1;
    FOR_TID(nthreads) {
        COLOUR_CELL(color)
        i64 o = line * nx;
        double cyl = ly[y], cyh = hy[y], czl = lz[z], czh = hz[z];
        i64 oyl = y > 0 ? o - nx : o;
        i64 oyh = y < ny - 1 ? o + nx : o;
        i64 ozl = z > 0 ? o - plane : o;
        i64 ozh = z < nz - 1 ? o + plane : o;
        if (xx == 0) {
            i64 ip = nx > 1 ? o + 1 : o;
            x[o] = (b[o] + hx[0] * x[ip] + cyl * x[oyl] + cyh * x[oyh]
                    + czl * x[ozl] + czh * x[ozh]) * invd[o];
        } else if (xx == last) {
            i64 i = o + last;
            x[i] = (b[i] + lx[last] * x[i - 1] + cyl * x[oyl + last]
                    + cyh * x[oyh + last] + czl * x[ozl + last]
                    + czh * x[ozh + last]) * invd[i];
        } else {
            i64 i = o + xx;
            double v = (b[i] + lx[xx] * x[i - 1] + hx[xx] * x[i + 1]
                        + cyl * x[oyl + xx] + cyh * x[oyh + xx]);
            if (nz > 1) v += czl * x[ozl + xx] + czh * x[ozh + xx];
            x[i] = v * invd[i];
        }
    }
}

/* r = b - A x on every cell (color < 0, one thread per cell) or on one colour */
KERNEL void mg_residual(i64 nthreads, const double* x, const double* b, const double* d,
                        const double* sz, const double* sy, const double* sx,
                        const double* lz, const double* hz, const double* ly, const double* hy,
                        const double* lx, const double* hx, double* r,
                        i64 nz, i64 ny, i64 nx, i64 color)
{
    i64 plane = nx * ny;
    i64 last = nx - 1;
    FOR_TID(nthreads) {
        i64 line, z, y, xx;
        if (color < 0) {
            line = tid / nx;
            z = line / ny;
            y = line - z * ny;
            xx = tid - line * nx;
        } else {
            i64 half = (nx + 1) / 2;
            line = tid / half;
            z = line / ny;
            y = line - z * ny;
            xx = ((color + y + z) & 1) + 2 * (tid - line * half);
            if (xx >= nx) continue;
        }
        i64 o = line * nx;
        double cyl = ly[y], cyh = hy[y], czl = lz[z], czh = hz[z];
        double syz = sy[y] + sz[z];
        i64 oyl = y > 0 ? o - nx : o;
        i64 oyh = y < ny - 1 ? o + nx : o;
        i64 ozl = z > 0 ? o - plane : o;
        i64 ozh = z < nz - 1 ? o + plane : o;
        if (xx == 0) {
            i64 ip = nx > 1 ? o + 1 : o;
            r[o] = (b[o] + hx[0] * x[ip] + cyl * x[oyl] + cyh * x[oyh]
                    + czl * x[ozl] + czh * x[ozh] - (d[o] + syz + sx[0]) * x[o]);
        } else if (xx == last) {
            i64 i = o + last;
            r[i] = (b[i] + lx[last] * x[i - 1] + cyl * x[oyl + last]
                    + cyh * x[oyh + last] + czl * x[ozl + last]
                    + czh * x[ozh + last] - (d[i] + syz + sx[last]) * x[i]);
        } else {
            i64 i = o + xx;
            double v = (b[i] + lx[xx] * x[i - 1] + hx[xx] * x[i + 1]
                        + cyl * x[oyl + xx] + cyh * x[oyh + xx]
                        - (d[i] + syz + sx[xx]) * x[i]);
            if (nz > 1) v += czl * x[ozl + xx] + czh * x[ozh + xx];
            r[i] = v;
        }
    }
}

/* per row: sum of r^2 over the cells of one colour (or all), engine.multigrid_rows._row_sumsq */
KERNEL void mg_rowsumsq(i64 nrows, const double* r, double* part, i64 ny, i64 nx, i64 color)
{
    FOR_TID(nrows) {
        i64 z = tid / ny;
        i64 y = tid - z * ny;
        i64 p = color < 0 ? 0 : ((color + y + z) & 1);
        i64 step = color < 0 ? 1 : 2;
        i64 n = (nx - p + step - 1) / step;
        i64 o = tid * nx + p;
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
        i64 n4 = n - (n & 3);
        for (i64 k = 0; k < n4; k += 4) {
            i64 i = o + k * step;
            a0 += r[i] * r[i];
            a1 += r[i + step] * r[i + step];
            a2 += r[i + 2 * step] * r[i + 2 * step];
            a3 += r[i + 3 * step] * r[i + 3 * step];
        }
        for (i64 k = n4; k < n; k++) a0 += r[o + k * step] * r[o + k * step];
        part[tid] = (a0 + a1) + (a2 + a3);
    }
}

KERNEL void mg_rowdot(i64 nrows, const double* a, const double* c, double* part, i64 ncol)
{
    FOR_TID(nrows) {
        i64 o = tid * ncol;
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
        i64 n4 = ncol - (ncol & 3);
        for (i64 k = 0; k < n4; k += 4) {
            i64 i = o + k;
            a0 += a[i] * c[i];
            a1 += a[i + 1] * c[i + 1];
            a2 += a[i + 2] * c[i + 2];
            a3 += a[i + 3] * c[i + 3];
        }
        for (i64 k = n4; k < ncol; k++) a0 += a[o + k] * c[o + k];
        part[tid] = (a0 + a1) + (a2 + a3);
    }
}

/* restriction along x of the residual of one colour, per (row, coarse cell) */
KERNEL void mg_restrict_x(i64 nthreads, const double* r, double* t, const double* rwx,
                          i64 ny, i64 nx, i64 mx, i64 color)
{
    FOR_TID(nthreads) {
        i64 line = tid / mx;
        i64 jj = tid - line * mx;
        i64 z = line / ny;
        i64 y = line - z * ny;
        i64 p = (color + y + z) & 1;
        i64 q = (p + 1) & 1;
        i64 o = line * nx;
        if (jj == 0 || jj == mx - 1) {
            double acc = 0.0;
            for (i64 k = q; k < 4; k += 2) {
                i64 fi = 2 * jj - 1 + k;
                if (fi >= 0 && fi < nx) acc += rwx[4 * jj + k] * r[o + fi];
            }
            t[tid] = acc;
        } else {
            i64 f0 = o + 2 * jj - 1 + q;
            t[tid] = rwx[4 * jj + q] * r[f0] + rwx[4 * jj + q + 2] * r[f0 + 2];
        }
    }
}

/* restriction along a strided axis: (nouter, nf, inner) -> (nouter, nc, inner) */
KERNEL void mg_restrict_mid(i64 n, const double* src, double* dst, const double* rw,
                            i64 nf, i64 nc, i64 inner)
{
    FOR_TID(n) {
        i64 t = tid / inner;
        i64 k = tid - t * inner;
        i64 o = t / nc;
        i64 j = t - o * nc;
        i64 so = o * nf * inner;
        double w0 = rw[4 * j], w1 = rw[4 * j + 1], w2 = rw[4 * j + 2], w3 = rw[4 * j + 3];
        i64 f1 = 2 * j;
        i64 f0 = j > 0 ? f1 - 1 : f1;
        i64 f2 = f1 + 1 < nf ? f1 + 1 : f1;
        i64 f3 = f1 + 2 < nf ? f1 + 2 : f1;
        dst[t * inner + k] = (w0 * src[so + f0 * inner + k] + w1 * src[so + f1 * inner + k]
                              + w2 * src[so + f2 * inner + k] + w3 * src[so + f3 * inner + k]);
    }
}

/* x += P e, one thread per fine cell (engine.multigrid._prolong_py) */
KERNEL void mg_prolong(i64 n, double* x, const double* e, const double* pwz, const double* pwy,
                       const double* pwx, i64 nz, i64 ny, i64 nx, i64 mz, i64 my, i64 mx)
{
    FOR_TID(n) {
        i64 line = tid / nx;
        i64 xx = tid - line * nx;
        i64 z = line / ny;
        i64 y = line - z * ny;
        i64 jz0 = (z - 1) >> 1;
        i64 jz1 = jz0 + 1;
        if (jz0 < 0) jz0 = jz1;
        if (jz1 > mz - 1) jz1 = jz0;
        i64 jy0 = (y - 1) >> 1;
        i64 jy1 = jy0 + 1;
        if (jy0 < 0) jy0 = jy1;
        if (jy1 > my - 1) jy1 = jy0;
        i64 ra = (jz0 * my + jy0) * mx;
        i64 rb = (jz0 * my + jy1) * mx;
        i64 rc = (jz1 * my + jy0) * mx;
        i64 rd = (jz1 * my + jy1) * mx;
        double wa = pwz[2 * z] * pwy[2 * y];
        double wb = pwz[2 * z] * pwy[2 * y + 1];
        double wc = pwz[2 * z + 1] * pwy[2 * y];
        double wd = pwz[2 * z + 1] * pwy[2 * y + 1];
        int flat = (wa == 0.0 && wb == 0.0);
        i64 j0, j1;
        double w0, w1;
        if (xx == 0) { j0 = 0; j1 = -1; w0 = pwx[1]; w1 = 0.0; }
        else if (xx <= 2 * mx - 2) { j0 = (xx - 1) >> 1; j1 = j0 + 1; w0 = pwx[2 * xx]; w1 = pwx[2 * xx + 1]; }
        else { j0 = mx - 1; j1 = -1; w0 = pwx[2 * xx]; w1 = 0.0; }
        /* coarse value c_J: the CPU forms it with four terms for J = 0 and, on one coarse
           plane (flat), with two for J > 0 */
        double c0 = (flat && j0 > 0) ? wc * e[rc + j0] + wd * e[rd + j0]
                    : wa * e[ra + j0] + wb * e[rb + j0] + wc * e[rc + j0] + wd * e[rd + j0];
        if (j1 < 0) {
            x[tid] += w0 * c0;
        } else {
            double c1 = flat ? wc * e[rc + j1] + wd * e[rd + j1]
                        : wa * e[ra + j1] + wb * e[rb + j1] + wc * e[rc + j1] + wd * e[rd + j1];
            x[tid] += w0 * c0 + w1 * c1;
        }
    }
}

KERNEL void mg_restrict_d(i64 n, const double* d, double* dc, const double* cwz,
                          const double* cwy, const double* cwx, i64 mz, i64 my, i64 mx,
                          i64 nz, i64 ny, i64 nx)
{
    FOR_TID(n) {
        i64 line = tid / mx;
        i64 xc = tid - line * mx;
        i64 zc = line / my;
        i64 yc = line - zc * my;
        double acc = 0.0;
        for (i64 a = 0; a < 3; a++) {
            double wz = cwz[3 * zc + a];
            if (wz == 0.0) continue;
            for (i64 bb = 0; bb < 3; bb++) {
                double wy = cwy[3 * yc + bb];
                if (wy == 0.0) continue;
                i64 row = ((2 * zc + a) * ny + 2 * yc + bb) * nx + 2 * xc;
                acc += wz * wy * (cwx[3 * xc] * d[row]
                                  + cwx[3 * xc + 1] * d[2 * xc + 1 < nx ? row + 1 : row]
                                  + cwx[3 * xc + 2] * d[2 * xc + 2 < nx ? row + 2 : row]);
            }
        }
        dc[tid] = acc;
    }
}

KERNEL void mg_invdiag(i64 n, const double* d, double* invd, const double* sz, const double* sy,
                       const double* sx, i64 ny, i64 nx)
{
    FOR_TID(n) {
        i64 line = tid / nx;
        i64 xx = tid - line * nx;
        i64 z = line / ny;
        i64 y = line - z * ny;
        double syz = sy[y] + sz[z];
        invd[tid] = 1.0 / (d[tid] + syz + sx[xx]);
    }
}

/* coarsest level: assemble V A and factor it (Cholesky, lower), one thread */
KERNEL void mg_cholesky(i64 one, double* c, const double* il,
                        const double* lz, const double* hz, const double* ly, const double* hy,
                        const double* lx, const double* hx, const double* wz, const double* wy,
                        const double* wx, i64 nz, i64 ny, i64 nx)
{
    FOR_TID(one) {
        i64 n = nz * ny * nx;
        for (i64 i = 0; i < n * n; i++) c[i] = 0.0;
        for (i64 z = 0; z < nz; z++)
            for (i64 y = 0; y < ny; y++)
                for (i64 xx = 0; xx < nx; xx++) {
                    i64 i = (z * ny + y) * nx + xx;
                    double v = wz[z] * wy[y] * wx[xx];
                    c[i * n + i] = v / il[i];
                    if (xx > 0) c[i * n + i - 1] = -v * lx[xx];
                    if (xx < nx - 1) c[i * n + i + 1] = -v * hx[xx];
                    if (y > 0) c[i * n + i - nx] = -v * ly[y];
                    if (y < ny - 1) c[i * n + i + nx] = -v * hy[y];
                    if (z > 0) c[i * n + i - nx * ny] = -v * lz[z];
                    if (z < nz - 1) c[i * n + i + nx * ny] = -v * hz[z];
                }
        for (i64 j = 0; j < n; j++) {
            double acc = c[j * n + j];
            for (i64 k = 0; k < j; k++) acc -= c[j * n + k] * c[j * n + k];
            double ljj = sqrt(acc);
            c[j * n + j] = ljj;
            for (i64 i = j + 1; i < n; i++) {
                acc = c[i * n + j];
                for (i64 k = 0; k < j; k++) acc -= c[i * n + k] * c[j * n + k];
                c[i * n + j] = acc / ljj;
            }
        }
        for (i64 j = 0; j < n; j++)
            for (i64 i = 0; i < j; i++) c[i * n + j] = 0.0;
    }
}

KERNEL void mg_coarse_solve(i64 one, double* xl, const double* bl, const double* chol,
                            double* cvec, const double* wz, const double* wy, const double* wx,
                            i64 nz, i64 ny, i64 nx)
{
    FOR_TID(one) {
        i64 n = nz * ny * nx;
        for (i64 z = 0; z < nz; z++)
            for (i64 y = 0; y < ny; y++)
                for (i64 xx = 0; xx < nx; xx++) {
                    i64 i = (z * ny + y) * nx + xx;
                    cvec[i] = wz[z] * wy[y] * wx[xx] * bl[i];
                }
        for (i64 i = 0; i < n; i++) {
            double acc = cvec[i];
            for (i64 k = 0; k < i; k++) acc -= chol[i * n + k] * cvec[k];
            cvec[i] = acc / chol[i * n + i];
        }
        for (i64 i = n - 1; i >= 0; i--) {
            double acc = cvec[i];
            for (i64 k = i + 1; k < n; k++) acc -= chol[k * n + i] * cvec[k];
            cvec[i] = acc / chol[i * n + i];
        }
        for (i64 i = 0; i < n; i++) xl[i] = cvec[i];
    }
}
"""

KERNELS = (
    "lod_sweep", "exchange_pointwise", "coupled_prepare", "boundary_rhs", "coupled_finish",
    "mg_fill", "mg_scale", "mg_smooth", "mg_residual", "mg_rowsumsq", "mg_rowdot",
    "mg_restrict_x", "mg_restrict_mid", "mg_prolong", "mg_restrict_d", "mg_invdiag",
    "mg_cholesky", "mg_coarse_solve",
)
