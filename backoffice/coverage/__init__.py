"""Editing a patient's coverage: the change ends the old coverage and re-plans the open work it affects."""
