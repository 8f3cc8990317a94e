"""Tests of shared/ modules, one file per module or concept."""
