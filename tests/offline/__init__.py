"""Tests of offline/ modules, one file per module or concept."""
