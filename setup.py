"""Shim for Beam/Dataflow workers (`--setup_file ./setup.py`); the package is defined in pyproject.toml."""

from setuptools import setup

setup()
