"""Trygg i uppdraget: the guideline's procedures as BPMN processes behind a thin Flask layer."""
