"""The package metadata: what ``pip install`` reads."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_licence_is_an_spdx_string_so_pip_install_prints_no_licence_warning():
    project = tomllib.loads(PYPROJECT.read_text())
    # A {text = ...} table makes setuptools >= 77 warn on every install.
    assert project["project"]["license"] == "AGPL-3.0-or-later"
    assert project["build-system"]["requires"] == ["setuptools>=77"]
