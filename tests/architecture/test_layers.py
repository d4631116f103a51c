"""The layer rules of ../shared/docs/ARCHITECTURE.md, enforced on the source tree.

- the canonical domain apps and apps.settlement never import apps.ocpi;
- no OCPI version literal ("2.2.1"-style) appears outside apps/ocpi/.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"
DOMAIN_APPS = [
    "core", "partners", "locations", "tariffs", "tokens", "charging_sessions", "cdrs",
    "settlement",
]  # fmt: skip
VERSION_LITERAL = re.compile(r"(?<![\d.])2\.[0-3]\.\d(?![\d.])")


def python_files(base: Path) -> Iterator[Path]:
    yield from (p for p in base.rglob("*.py") if "migrations" not in p.parts)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def ocpi_imports(source: str, module: str) -> list[str]:
    """Imports of apps.ocpi in the given source (absolute, relative and via importlib)."""
    found = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]
        found += [n for n in names if n == "apps.ocpi" or n.startswith("apps.ocpi.")]
    return found


def version_literals(source: str) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and VERSION_LITERAL.search(node.value)
    ]


def test_the_checkers_catch_violations() -> None:
    """Guard against a checker that silently passes everything."""
    assert ocpi_imports("import apps.ocpi.versions", "apps.cdrs.models")
    assert ocpi_imports("from apps.ocpi import versions", "apps.cdrs.models")
    assert ocpi_imports("from ..ocpi import versions", "apps.cdrs.models")
    assert ocpi_imports("import importlib\nimportlib.import_module('apps.ocpi.x')", "apps.a.b")
    assert not ocpi_imports("from apps.tariffs import models", "apps.cdrs.models")
    assert version_literals('V = "2.2.1"') == ["2.2.1"]
    assert version_literals('url = "https://x/ocpi/2.1.1/cdrs"')
    assert not version_literals('price = Decimal("2.25")')
    assert not version_literals('ip = "10.2.2.10"')


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_domain_apps_never_import_the_protocol_layer(app: str) -> None:
    base = APPS / app
    if not base.exists():
        pytest.skip(f"apps/{app} does not exist yet")
    violations = {
        str(path.relative_to(ROOT)): hits
        for path in python_files(base)
        if (
            hits := ocpi_imports(
                path.read_text(), ".".join(path.relative_to(ROOT).with_suffix("").parts)
            )
        )
    }
    assert violations == {}


def test_no_version_literals_outside_the_protocol_layer() -> None:
    roots = [APPS, ROOT / "config"]
    violations = {
        str(path.relative_to(ROOT)): hits
        for root in roots
        for path in python_files(root)
        if "ocpi" not in path.relative_to(APPS if root == APPS else ROOT).parts[:1]
        and (hits := version_literals(path.read_text()))
    }
    assert violations == {}
