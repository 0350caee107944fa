"""The ``tmesim`` command: thin typer commands over the Python API, one module per group.

| module | commands |
|---|---|
| ``run`` | ``run``, ``validate``, ``report`` (``body`` prints ``run --body``) |
| ``view`` | ``animate``, ``view`` |
| ``therapies`` | ``therapies`` |
| ``cohort`` | ``cohort``, ``trial`` |
| ``inference`` | ``sensitivity``, ``calibrate``, ``posterior-trial`` |
| ``rules``, ``catalog``, ``readout``, ``assay`` | the sub-command groups of the same name |
| ``interop`` | ``import physicell``, ``export physicell``, ``schema``, ``readout spatialdata`` |

Global options (``_options``): ``--version``, ``-h``/``--help``, ``--quiet``/``--verbose``;
shell completion (``--install-completion`` / ``--show-completion``).

Every failure prints one ``error: <field>: <what is allowed>`` line on stderr, literally, and
exits with status 2: errors a command reports (``_common.fail``) and anything else, usage
errors included (``_common.OneLineErrors``, the group class of ``app``).
"""

from __future__ import annotations

import sys

import typer

from . import assay, catalog, cohort, inference, interop, readout, rules, run, therapies, view
from ._common import OneLineErrors
from ._options import main_callback

HELP = ("Breast tumor microenvironment simulator. Machine-readable output: --json on validate, therapies, "
        "catalog and trial. JSON Schema of model, trial and therapy entries for editors: tmesim schema. "
        "PhysiCell projects in and out: tmesim import physicell, tmesim export physicell.")

app = typer.Typer(cls=OneLineErrors, add_completion=True, no_args_is_help=False, help=HELP,
                  context_settings={"help_option_names": ["-h", "--help"]}, callback=main_callback)

for _command in (run.run, run.validate, run.report, view.animate, view.view, therapies.therapies,
                 cohort.cohort, cohort.trial, inference.sensitivity, inference.calibrate):
    app.command()(_command)
app.command("posterior-trial")(inference.posterior_trial)
for _name, _group in (("rules", rules.app), ("catalog", catalog.app), ("readout", readout.app),
                      ("assay", assay.app), ("import", interop.import_app), ("export", interop.export_app)):
    app.add_typer(_group, name=_name)
app.command("schema")(interop.schema)


def main() -> None:  # pragma: no cover
    sys.exit(app())


__all__ = ["app", "main"]
