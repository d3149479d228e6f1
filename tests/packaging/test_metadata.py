"""What the built artifacts carry: the licence, the links, honest classifiers and dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from importlib.metadata import packages_distributions
from pathlib import PurePosixPath

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from .conftest import REPO, Dist

PROJECT_LINKS = {"Homepage", "Documentation", "Source", "Changelog", "Issues"}


def wheel_metadata(dist: Dist) -> Message:
    with zipfile.ZipFile(dist.wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(wheel.read(name).decode())


def sdist_files(dist: Dist) -> set[str]:
    with tarfile.open(dist.sdist) as sdist:
        return {str(PurePosixPath(*PurePosixPath(n).parts[1:])) for n in sdist.getnames()}


def test_the_sdist_holds_the_package_and_its_papers_but_not_the_tests(dist: Dist) -> None:
    files = sdist_files(dist)

    for paper in ("LICENSE", "README.md", "CHANGELOG.md", "SECURITY.md", "pyproject.toml"):
        assert paper in files, paper
    assert "kavach_fastapi/py.typed" in files
    assert "kavach_fastapi/migrations/versions/0001_initial_schema.py" in files
    assert not [name for name in files if name.startswith(("tests/", "bench/", "docs/"))]


def test_the_wheel_carries_the_licence_and_the_project_links(dist: Dist) -> None:
    metadata = wheel_metadata(dist)
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = wheel.namelist()

    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "MIT License" in (REPO / "LICENSE").read_text()
    links = dict(link.split(", ", 1) for link in metadata.get_all("Project-URL") or [])
    assert set(links) == PROJECT_LINKS
    assert all(url.startswith("https://") for url in links.values())
    assert "kavach_fastapi/py.typed" in names


def test_the_classifiers_claim_only_the_pythons_the_suite_runs_on(dist: Dist) -> None:
    metadata = wheel_metadata(dist)
    prefix = "Programming Language :: Python :: 3."
    claimed = sorted(
        int(classifier.removeprefix(prefix))
        for classifier in metadata.get_all("Classifier") or []
        if classifier.startswith(prefix)
    )
    supported = SpecifierSet(str(metadata["Requires-Python"]))

    running = sys.version_info.minor
    assert running in claimed
    assert max(claimed) <= running, "claims a Python this suite never ran on"
    assert f"3.{min(claimed)}" in supported
    assert f"3.{min(claimed) - 1}" not in supported


def imported_and_named(source: str) -> set[str]:
    """Top-level modules a source file imports, and the plain names its strings hold."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A driver SQLAlchemy loads by name (``sqlite+aiosqlite``) is used, too.
            found.add(node.value)
    return found


def test_every_runtime_dependency_is_used_by_the_package(dist: Dist) -> None:
    used: set[str] = set()
    with zipfile.ZipFile(dist.wheel) as wheel:
        for name in wheel.namelist():
            if name.startswith("kavach_fastapi/") and name.endswith(".py"):
                used |= imported_and_named(wheel.read(name).decode())
    provides: dict[str, set[str]] = {}
    for module, names in packages_distributions().items():
        for name in names:
            provides.setdefault(canonicalize_name(name), set()).add(module)
    requirements = [
        Requirement(line) for line in wheel_metadata(dist).get_all("Requires-Dist") or []
    ]

    unused = [
        str(requirement)
        for requirement in requirements
        if requirement.marker is None
        and not provides.get(
            canonicalize_name(requirement.name), {requirement.name.replace("-", "_")}
        )
        & used
    ]

    assert unused == [], "declared, but nothing in the package imports it"


def test_make_dist_builds_the_sdist_and_the_wheel_as_these_tests_do() -> None:
    plan = subprocess.run(
        ["make", "-n", "dist"],  # noqa: S607 - make from PATH, as a developer runs it
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert "-m build --outdir dist" in plan
