"""Tests of online/ modules, one file per module or concept."""
