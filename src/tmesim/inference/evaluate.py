"""Evaluating many parameter sets, in batches, on the cohort runner's dask cluster."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tmesim.model import Model

from .simulate import Problem, simulate

Progress = Callable[[int, int], None]


def model_hash(model: Model) -> str:
    """First 16 hex digits of the SHA-256 of the resolved model (what results files record)."""
    return hashlib.sha256(json.dumps(model.model_dump(mode="json"), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _batch(problem: Problem, rows: list[dict[str, float]], seed: int) -> list[dict[str, float]]:
    out = []
    for r in rows:
        try:
            out.append(simulate(r, seed, problem))
        except Exception as exc:  # noqa: BLE001 - a failed integration is one missing point, not a failed study
            out.append({o: float("nan") for o in problem.outputs} | {"_error": str(exc)[:200]})
    return out


def evaluate(problem: Problem, params: pd.DataFrame, seed: int = 0, workers: int = 2, scheduler: str | None = None,
             client: Any = None, batch: int = 8, progress: Progress | None = None) -> pd.DataFrame:
    """Outputs for every row of ``params`` (columns: parameter names, stored units), one row
    each, in input order. ``workers <= 1`` and no client/scheduler: in this process (no dask).
    Same inputs → same table, whatever the number of workers."""
    rows = params.to_dict("records")
    chunks = [rows[i:i + batch] for i in range(0, len(rows), batch)]
    results: list[list[dict[str, float]] | None] = [None] * len(chunks)
    done = 0
    if client is None and scheduler is None and workers <= 1:
        for k, ch in enumerate(chunks):
            results[k] = _batch(problem, ch, seed)
            done += len(ch)
            if progress:
                progress(done, len(rows))
    else:
        from tmesim.cohort.runner import dask_client

        ctx = contextlib.nullcontext(client) if client is not None else dask_client(workers, scheduler)
        with ctx as c:
            from distributed import as_completed

            pf = c.scatter(problem, broadcast=True, hash=False)
            futs = {c.submit(_batch, pf, ch, seed, pure=False, retries=2): k for k, ch in enumerate(chunks)}
            for fut in as_completed(futs):
                k = futs[fut]
                results[k] = fut.result()
                fut.release()
                done += len(chunks[k])
                if progress:
                    progress(done, len(rows))
    flat = [r for ch in results for r in (ch or [])]
    out = pd.DataFrame(flat)
    for o in problem.outputs:
        if o not in out:
            out[o] = np.nan
    return out


__all__ = ["evaluate", "model_hash"]
