"""``tmesim readout clinical|scrna|spatial|regions|compare-tissue``: readouts of a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..model import ModelError
from ._common import check_out, console, fail, fail_option

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Readouts of a run directory.")


@app.command("clinical")
def readout_clinical(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    day: Annotated[float | None, typer.Option(help="snapshot nearest this day (default: the last)")] = None,
    compare_imc: Annotated[bool, typer.Option("--compare-imc", help="also compare the cell-type make-up with "
                                              "the Jackson 2020 IMC breast cancer cohort")] = False,
    out: Annotated[Path | None, typer.Option(help="CSV to write (readout,value); with --compare-imc the "
                                             "comparison goes to <out>.imc.csv")] = None,
) -> None:
    """Clinical biomarkers of a snapshot: immune densities per mm², ratios, EMT, PD-L1, vessels, hypoxia."""
    import math

    from rich.table import Table

    from ..readouts import clinical_readouts, compare_composition

    try:
        r = clinical_readouts(run_dir, day=day)
        cmp = compare_composition(run_dir, day=r["time_days"]) if compare_imc else None
        check_out(out)
    except ModelError as exc:
        fail(exc)
        return

    def fmt(v: float) -> str:
        return "NaN" if isinstance(v, float) and math.isnan(v) else f"{v:.4g}"

    stdout = Console()
    t = Table(title=f"Clinical readouts of {run_dir} (day {r['time_days']:g})", title_justify="left")
    t.add_column("readout")
    t.add_column("value", justify="right")
    for k, v in r.items():
        t.add_row(k, fmt(float(v)))
    stdout.print(t)
    if cmp is not None:
        c = Table(title="Cell-type make-up (% of live cells) vs Jackson 2020 IMC, 100 patients", title_justify="left")
        for col in ("coarse type", "simulated %", "IMC median %", "IMC IQR %", "IMC 5-95 %", "within 5-95"):
            c.add_column(col, justify="left" if col == "coarse type" else "right")
        def pct(v: float) -> str:
            return "-" if math.isnan(v) else f"{100 * v:.1f}"

        for cls, row in cmp.iterrows():
            c.add_row(str(cls), pct(row.simulated_share), pct(row.imc_median),
                      f"{pct(row.imc_q25)}-{pct(row.imc_q75)}" if not math.isnan(row.imc_q25) else "-",
                      f"{pct(row.imc_p05)}-{pct(row.imc_p95)}" if not math.isnan(row.imc_p05) else "-",
                      "yes" if row.within_imc_5_95 else "no")
        stdout.print(c)
    if out is not None:
        from ..io.atomic import atomic_write

        atomic_write(out, lambda p: r.rename_axis("readout").rename("value").to_csv(p))
        console.print(f"[green]wrote[/]: {escape(str(out))}", highlight=False)
        if cmp is not None:
            imc_out = out.with_suffix(".imc.csv")
            atomic_write(imc_out, lambda p: cmp.to_csv(p))
            console.print(f"[green]wrote[/]: {escape(str(imc_out))}", highlight=False)




def _h5ad_out(out: Path | None, run_dir: Path, name: str) -> Path:
    from ..readouts._common import open_run

    open_run(run_dir)  # a missing run directory is reported before the default --out
    out = out if out is not None else run_dir / name
    if out.suffix != ".h5ad":
        raise ModelError("out", f"{str(out)!r} must end in .h5ad")
    check_out(out)
    return out


@app.command("scrna")
def readout_scrna(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    cells: Annotated[int, typer.Option("--cells", help="number of cells to sample (> 0)")] = 5000,
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last snapshot)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="sampling seed; same run, day and seed give the same file")] = 0,
    out: Annotated[Path | None, typer.Option(help="AnnData file to write (default: RUN_DIR/scrna.h5ad)")] = None,
) -> None:
    """Synthetic single-cell RNA-seq of a snapshot (AnnData .h5ad: counts, true type and state)."""
    from ..readouts import scrna_anndata, write_h5ad

    try:
        path = _h5ad_out(out, run_dir, "scrna.h5ad")
        a = scrna_anndata(run_dir, n_cells=cells, day=day, seed=seed)
        write_h5ad(a, path)
    except ModelError as exc:
        fail_option(exc)
        return
    console.print(f"[green]wrote[/]: {escape(str(path))} ({a.n_obs:,} cells × {a.n_vars} genes, "
                  f"day {a.uns['tmesim']['snapshot_day']:g})", highlight=False)


@app.command("spatial")
def readout_spatial(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last snapshot)")] = None,
    seed: Annotated[int, typer.Option(min=0, help="counts seed; same run, day and seed give the same file")] = 0,
    out: Annotated[Path | None, typer.Option(help="AnnData file to write (default: RUN_DIR/spatial.h5ad)")] = None,
) -> None:
    """Every live cell with counts and obsm['spatial'] (µm), as AnnData for squidpy."""
    from ..readouts import spatial_anndata, write_h5ad

    try:
        path = _h5ad_out(out, run_dir, "spatial.h5ad")
        a = spatial_anndata(run_dir, day=day, seed=seed)
        write_h5ad(a, path)
    except ModelError as exc:
        fail_option(exc)
        return
    console.print(f"[green]wrote[/]: {escape(str(path))} ({a.n_obs:,} cells × {a.n_vars} genes with positions, "
                  f"day {a.uns['tmesim']['snapshot_day']:g})", highlight=False)


@app.command("regions")
def readout_regions(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    roi: Annotated[str, typer.Option(help="comma-separated regions: tumor-core, invasive-margin, stroma, whole")] =
        "tumor-core,invasive-margin,stroma",
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last snapshot)")] = None,
    compare_days: Annotated[str | None, typer.Option("--compare-days", help="two snapshot days, e.g. 0,7 "
                                                     "(before,after a therapy): side by side with log2 fold changes")] = None,
    margin: Annotated[float, typer.Option(help="width of the invasive-margin band around the tumor border (µm)")] = 200.0,
    out: Annotated[Path | None, typer.Option(help="CSV to write (tidy: one row per region and analyte)")] = None,
) -> None:
    """Digital-spatial-profiling-like readout: protein, RNA, cell and field means per region."""
    import math

    from rich.table import Table

    from ..readouts import compare_regions, region_profiles

    try:
        check_out(out)
        if compare_days is not None and day is not None:
            raise ModelError("day", "give either --day or --compare-days, not both")
        if compare_days is not None:
            df = compare_regions(run_dir, compare_days, rois=roi, margin=margin)
        else:
            df = region_profiles(run_dir, rois=roi, day=day, margin=margin)
    except ModelError as exc:
        fail_option(exc)
        return

    def fmt(v: float) -> str:
        return "NaN" if math.isnan(v) else f"{v:.4g}"

    show = [("cells", "n_cells"), ("cells", "density_per_mm2"), ("cells", "cd45_share"), ("protein", "CD45"),
            ("protein", "PanCK"), ("protein", "CD8"), ("protein", "CD68"), ("protein", "FOXP3"),
            ("protein", "PD-L1"), ("protein", "SMA"), ("protein", "CD31"), ("protein", "Vimentin")]
    stdout = Console()
    for r in dict.fromkeys(df["roi"]):
        sub = df[df["roi"] == r].set_index(["kind", "analyte"])
        if compare_days is not None:
            t = Table(title=f"{r}: day {sub['day_before'].iloc[0]:g} vs day {sub['day_after'].iloc[0]:g}",
                      title_justify="left")
            for c in ("analyte", "before", "after", "log2 FC"):
                t.add_column(c, justify="left" if c == "analyte" else "right")
            for key in show:
                if key in sub.index:
                    row = sub.loc[key]
                    t.add_row(key[1], fmt(row.value_before), fmt(row.value_after), fmt(row.log2_fold_change))
        else:
            t = Table(title=f"{r} (day {sub['day'].iloc[0]:g})", title_justify="left")
            t.add_column("analyte")
            t.add_column("value", justify="right")
            for key in show:
                if key in sub.index:
                    t.add_row(key[1], fmt(float(sub.loc[key, "value"])))
        stdout.print(t)
    if out is not None:
        from ..io.atomic import atomic_write_csv

        atomic_write_csv(df, out)
        console.print(f"[green]wrote[/]: {escape(str(out))} ({len(df):,} rows)", highlight=False)



@app.command("compare-tissue")
def readout_compare_tissue(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    tissue: Annotated[Path, typer.Argument(help="real section(s): CSV, Parquet or AnnData with x/y (µm) and labels")],
    sample: Annotated[str | None, typer.Option(help="sample of the tissue file (default: the one a --from-tissue run started from)")] = None,
    day: Annotated[float | None, typer.Option(help="snapshot day (default: the last)")] = None,
    labels: Annotated[str | None, typer.Option(help="label mapping YAML (default: the shipped Jackson 2020 IMC mapping)")] = None,
    cohort: Annotated[bool, typer.Option("--cohort", help="compare with every sample of the file (5-95 % ranges) instead of one")] = False,
    out: Annotated[Path | None, typer.Option(help="CSV of the table (default: <run>/compare-tissue[-day<d>].csv)")] = None,
    figure: Annotated[Path | None, typer.Option(help="PNG figure (default: next to the CSV; not with --cohort)")] = None,
) -> None:
    """Simulated vs real section with the same code: composition, neighbourhood enrichment (squidpy),
    nearest-neighbour distances, cross-type pair correlation, immune archetype (Keren et al. 2018)."""
    from rich.table import Table

    from ..io.atomic import atomic_write
    from ..readouts.tissue import compare_tissue, compare_with_cohort

    try:
        if cohort:
            tab = compare_with_cohort(run_dir, tissue, day=day, labels=labels)
        else:
            tab = compare_tissue(run_dir, tissue, sample=sample, day=day, labels=labels)
        check_out(out)
    except ModelError as exc:
        fail(exc)
        return
    d = tab.attrs.get("day", 0.0)
    csv = out or Path(run_dir) / f"compare-tissue{'-cohort' if cohort else ''}-day{d:g}.csv"
    atomic_write(csv, lambda p: tab.to_csv(p))
    stdout = Console()
    title = (f"{run_dir} day {d:g} vs {tissue}" + ("" if cohort else f" (sample {tab.attrs.get('sample')})"))
    t = Table(title=title, title_justify="left")
    t.add_column("statistic")
    for c in tab.columns:
        t.add_column(str(c), justify="right")
    for k, row in tab.iterrows():
        t.add_row(str(k), *[f"{v:.4g}" if isinstance(v, float) else escape(str(v)) for v in row.tolist()])
    stdout.print(t)
    console.print(f"table: {csv}")
    if not cohort:
        from ..viz.tissue import comparison_figure

        png = figure or csv.with_suffix(".png")
        comparison_figure(tab, png, title=f"{Path(run_dir).name} vs {Path(tissue).name} sample {tab.attrs.get('sample')}")
        console.print(f"figure: {png}")
