"""Insight for the people who run verification: statistics, threshold calibration, abuse
signals and the audit export. Every figure is computed from the attempts and their audit
trail with a constant number of indexed, grouped queries (no per-row work in Python)."""
