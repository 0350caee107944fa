"""``tmesim run --body``: the whole-body level on a finished run, printed per organ."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..model import ModelError
from ._common import console, fail


def body_summary(path: Path, report: bool = True) -> None:
    """Run the whole-body level on a finished run and print the per-organ outcome."""
    from .. import api

    try:
        with console.status("whole body: organ niches (spatial) and dissemination ..."):
            res = api.run_body(path)
    except ModelError as exc:
        fail(exc)
        return
    at_dx = res.ctc.iloc[int(res.ctc["days_from_diagnosis"].abs().to_numpy().argmin())]
    table = Table(title=f"Whole body (diagnosis at day {res.diagnosis_day:.0f} of the life history; "
                        f"CTCs at diagnosis: {float(at_dx['detectable_per_7_5ml']):.1f} per 7.5 mL)")
    for col in ("organ", "first metastasis (days after diagnosis)", "expected metastases", "colonies founded", "niche growth /day"):
        table.add_column(col)
    fm = res.first_metastasis
    for _, r in fm.iterrows():
        n = int((res.seeding["organ"] == r["organ"]).sum())
        first = "-" if r["days_from_diagnosis"] != r["days_from_diagnosis"] else f"{r['days_from_diagnosis']:.0f}"
        table.add_row(r["organ"], first, f"{r['expected_metastases']:.2f}", str(n), f"{r['niche_growth_per_day']:.2f}")
    console.print(table)
    console.print(f"body tables: {path / 'body'} (coupling.parquet: each factor the section set, and from what)")
    if report:
        from ..viz.report import write_report

        write_report(path)
