"""The layout's promises, checked: the search engine is plain Python, and one app's admin
uses another's admin helpers without importing its registrations."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_search_package_imports_nothing_from_django():
    for path in sorted((ROOT / "digest" / "search").glob("*.py")):
        django = {name for name in imported_modules(path) if name.split(".")[0] == "django"}
        assert not django, f"{path.name} imports {sorted(django)}"


def test_the_search_package_loads_without_django_installed_in_the_process():
    # A fresh interpreter with Django made unimportable: any import of it, however
    # indirect (through digest/__init__.py, say), fails here.
    code = (
        "import sys; sys.modules['django'] = None\n"
        "import digest.search.index, digest.search.language, digest.search.ranking\n"
        "import digest.search.taste, digest.search.text\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_accounts_admin_imports_no_other_apps_model_admins():
    imported = imported_modules(ROOT / "accounts" / "admin.py")
    registrations = ("digest.admin.catalogue", "digest.admin.sending")
    found = sorted(name for name in imported if name.startswith(registrations))
    assert not found, found


def test_digest_shows_its_concerns_as_packages():
    packages = {p.name for p in (ROOT / "digest").iterdir() if (p / "__init__.py").exists()}
    assert {"ingest", "search", "mail", "admin"} <= packages
