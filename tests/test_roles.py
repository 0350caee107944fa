"""Cell types declare roles; code finds cells by role (see tmesim.model.roles)."""

from __future__ import annotations

import pytest

import tmesim
from conftest import tnbc_dict
from tmesim.model import ModelError, model_from_dict
from tmesim.model.roles import ROLES, Role


@pytest.mark.parametrize("preset", ["catalog", "tnbc-core", "spheroid", "niche-bone", "niche-brain",
                                    "niche-liver", "niche-lung"])
def test_every_shipped_cell_type_has_a_role(preset: str) -> None:
    model = tmesim.load_model(tmesim.preset_path(preset))
    assert all(ct.role in ROLES for ct in model.cell_types), [ct.name for ct in model.cell_types if ct.role is None]
    assert len(model.types_with_role(Role.CANCER)) == 1


def test_catalog_roles_and_tags() -> None:
    m = tmesim.load_model(tmesim.preset_path("tnbc"))
    assert len(m.types_with_role(Role.CAF, tag="s100a4")) == 1 and len(m.types_with_role(Role.CAF, tag="pdpn")) == 1
    assert len(m.types_with_role(Role.ENDOTHELIAL)) == 2  # normal and tumour endothelium


def test_role_is_inherited_from_the_catalog_by_name_and_can_be_overridden() -> None:
    data = tnbc_dict()
    for ct in data["cell_types"]:
        ct.pop("role", None)
        ct.pop("tags", None)
    m = model_from_dict(data)
    catalog = set(tmesim.load_model(tmesim.preset_path("catalog")).cell_type_names)
    assert all((ct.role is not None) == (ct.name in catalog) for ct in m.cell_types)
    assert m.types_with_role(Role.CANCER)
    first = data["cell_types"][0]["name"]
    data["cell_types"][0]["role"] = "resident"
    assert model_from_dict(data).cell_type(first).role == Role.RESIDENT


def test_unknown_role_is_one_clear_error() -> None:
    data = tnbc_dict()
    data["cell_types"][0]["role"] = "tumour"
    with pytest.raises(ModelError) as err:
        model_from_dict(data)
    assert err.value.field.endswith(".role") and "allowed: cancer" in err.value.message
