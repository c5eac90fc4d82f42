"""Validation splits, label handling, drift correction and pseudo-labelling."""
