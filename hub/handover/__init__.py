"""Handover tracking: no family gets lost between two responsibilities."""
