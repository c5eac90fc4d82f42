"""Fusion: blending model predictions, fitted on out-of-fold predictions only."""
