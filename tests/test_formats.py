"""Every on-disk format records its version; an older or unknown one is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import tnbc_dict
from tmesim.cli import app
from tmesim.io import RunDirectory, read_checkpoint
from tmesim.io.body import read_body_info, read_body_table, write_body
from tmesim.io.trial import check_config, read_patients, write_summary, write_table
from tmesim.io.versions import BODY_FORMAT, RUN_FORMAT, TRIAL_FORMAT
from tmesim.model import ModelError, model_from_dict

BAD_VERSIONS = [None, 0, 99, "one"]


@pytest.mark.parametrize("version", [0, 2, "1", True, None])
def test_model_file_of_another_format_version(version: object) -> None:
    data = tnbc_dict()
    data["format_version"] = version
    with pytest.raises(ModelError) as err:
        model_from_dict(data)
    assert err.value.field == "format_version" and "reads version 1" in err.value.message


def test_model_file_format_version_is_optional_and_recorded() -> None:
    data = tnbc_dict()
    data.pop("format_version", None)
    assert model_from_dict(data).format_version == 1
    assert model_from_dict({**tnbc_dict(), "format_version": 1}).model_dump()["format_version"] == 1


def _fake_run(path: Path, version: object) -> Path:
    path.mkdir(parents=True)
    cfg = {"tmesim_version": "0.0.0", "seed": 0, "days": 1.0, "model": {}}
    if version is not None:
        cfg["format_version"] = version
    (path / "config.yaml").write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_run_directory_of_another_format_version(tmp_path: Path, version: object) -> None:
    run = _fake_run(tmp_path / "run", version)
    with pytest.raises(ModelError, match="format version") as err:
        RunDirectory(run)
    assert err.value.field == "format_version" and "run directory" in err.value.message
    with pytest.raises(ModelError, match="format version"):
        read_checkpoint(run)


def test_cli_names_the_run_format_in_one_line(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "run", 99)
    res = CliRunner().invoke(app, ["report", str(run)])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())  # rich wraps long lines
    assert text.startswith("error: format_version:") and text.count("error:") == 1
    assert "format version 99" in text and "upgrade tmesim" in text and "Traceback" not in text


def test_body_output_round_trip_and_versions(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "run", RUN_FORMAT)
    write_body(run, {"ctc": pd.DataFrame({"t": [0.0, 1.0]})}, {"seed": 3})
    assert read_body_info(run) == {"format_version": BODY_FORMAT, "seed": 3}
    assert RunDirectory(run).has_body and len(RunDirectory(run).body("ctc")) == 2
    for version in BAD_VERSIONS:
        info = {"seed": 3} if version is None else {"format_version": version, "seed": 3}
        (run / "body" / "body.json").write_text(json.dumps(info))
        with pytest.raises(ModelError, match="body output"):
            read_body_info(run)
        with pytest.raises(ModelError, match="body output"):
            read_body_table(run, "ctc")


def test_trial_folder_versions(tmp_path: Path) -> None:
    out = tmp_path / "trial"
    check_config(out, {"n": 2})
    assert json.loads((out / "cohort.json").read_text())["format_version"] == TRIAL_FORMAT
    check_config(out, {"n": 2})  # same configuration, same format: resumes
    write_table(out, "patients.parquet", pd.DataFrame({"patient_id": [0, 1], "arm": ["a", "a"]}))
    write_summary(out, {"patients": 2})
    assert len(read_patients(out)) == 2
    for version in BAD_VERSIONS:
        summary = {"patients": 2} if version is None else {"format_version": version, "patients": 2}
        (out / "summary.json").write_text(json.dumps(summary))
        with pytest.raises(ModelError, match="cohort/trial folder"):
            read_patients(out)
    (out / "cohort.json").write_text(json.dumps({"hash": "x", "config": {"n": 2}}))  # written before versions
    with pytest.raises(ModelError, match="records no format version"):
        check_config(out, {"n": 2})
