"""The mean-field solve's state and tables in one numba struct, so that LSODA calls compiled code
directly.

Hand-written with numba's ``structref`` because the alternative costs more than the work: the
right-hand side takes ~60 arrays and numbers, and numba checks and unboxes each argument on every
call from Python (~4 µs of a ~20 µs call, 2,300 calls per patient), and a Python method between
``odeint`` and numba adds ~3 µs more (the method itself and the drug exposures). A struct is
unboxed as one pointer, and :func:`tmesim.meanfield.rhs.packed_fun` is handed to ``odeint`` as the
function itself, filling the drug exposures inside. The numbers are those of the Python path: the
same kernels (:func:`tmesim.meanfield.rhs.rhs_reduced`, :func:`tmesim.model.pk._fill`) on the same
inputs. Those kernels live in ``rhs.py`` because numba's on-disk cache of a function is not
invalidated when a function it calls in another file changes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.experimental import structref


@structref.register
class PackType(types.StructRef):
    def preprocess_fields(self, fields):  # noqa: ANN001, ANN201
        return tuple((name, types.unliteral(t)) for name, t in fields)


class Pack(structref.StructRefProxy):
    """What ``rhs.packed_fun`` and ``rhs.packed_jac`` read: built by :func:`pack`, held by a ``MeanField``."""


FIELDS = ("idx", "y", "dydt", "aux", "extra", "ext_t", "pk_on", "pk", "dep_ptr", "dep_grp", "dims", "scal",
          "arrays")
structref.define_boxing(PackType, Pack)
structref.define_constructor(Pack, PackType, list(FIELDS))


@njit(cache=True)
def _new(idx, y, dydt, aux, extra, ext_t, pk_on, pk, dep_ptr, dep_grp, dims, scal, arrays):  # noqa: ANN001, ANN202
    return Pack(idx, y, dydt, aux, extra, ext_t, pk_on, pk, dep_ptr, dep_grp, dims, scal, arrays)


def pack(idx: np.ndarray, y: np.ndarray, dydt: np.ndarray, aux: np.ndarray, extra: np.ndarray, ext_t: np.ndarray,
         pk_on: bool, pk: tuple[np.ndarray, ...], dep_ptr: np.ndarray, dep_grp: np.ndarray,
         dims: tuple[int, int, int], scal: tuple[float, float], arrays: tuple[np.ndarray, ...]) -> Pack:
    """The struct (its arrays are shared, not copied). ``ext_t[0]``: the time (minutes) ``extra``
    holds the drug exposures of (NaN: none); ``pk``: the arrays of :class:`tmesim.model.pk.Exposures`
    and the positions in ``extra`` they fill, as ``Exposures.fill`` passes them; ``pk_on``: fill them
    (False: ``extra`` is constant)."""
    return _new(idx, y, dydt, aux, extra, ext_t, bool(pk_on), pk, dep_ptr, dep_grp,
                tuple(int(d) for d in dims), tuple(float(s) for s in scal), arrays)
