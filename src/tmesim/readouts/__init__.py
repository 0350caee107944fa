"""Readouts computed from run directories: clinical biomarkers, comparison with real data,
synthetic single-cell and spatial AnnData, and region (digital-spatial-profiling-like) profiles.

May import ``tmesim.model`` and ``tmesim.io`` only (see DESIGN.md). anndata, scanpy and
squidpy are optional (``pip install 'tmesim[readouts]'``) and imported only when used.
"""

from .clinical import clinical_readouts, clinical_timecourse
from .expression import expression_model, profile_tables
from .reference import COARSE_TYPES, coarse_class, compare_composition, imc_composition
from .regions import PROTEIN_PANEL, ROIS, compare_regions, region_labels, region_profiles
from .singlecell import scrna_anndata, spatial_anndata, write_h5ad

__all__ = ["COARSE_TYPES", "PROTEIN_PANEL", "ROIS", "clinical_readouts", "clinical_timecourse", "coarse_class",
           "compare_composition", "compare_regions", "expression_model", "imc_composition", "profile_tables",
           "region_labels", "region_profiles", "scrna_anndata", "spatial_anndata", "write_h5ad"]
