"""Model files and rules: load a shipped model, see what its cell types are (roles), read its
rules with their sources, and write them as a PhysiCell rules file."""

import tmesim
from tmesim.knowledge import export_rules
from tmesim.model.roles import Role

model = tmesim.load_model(tmesim.preset_path("tnbc"))
print(f"{model.name}: {len(model.cell_types)} cell types, {len(model.rules)} rules")
for ct in model.cell_types[:6]:
    print(f"  {ct.name:16s} role={ct.role} tags={ct.tags}")
print("T cells that kill:", model.types_with_role(Role.CD8_T), "regulatory:", model.types_with_role(Role.TREG))
rule = model.rules[0]
print(f"first rule: {rule.cell_type}: {rule.signal} {rule.direction} {rule.behaviour} ({rule.source})")
physicell = export_rules(model, "physicell")
print("PhysiCell rules CSV, first line:", physicell.splitlines()[0])
