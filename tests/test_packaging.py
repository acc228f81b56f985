"""The project's set-up files agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge spells some packages differently
CONDA_NAMES = {"pyosmium": "osmium", "h3-py": "h3"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_mirrors_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    wanted = {_name(d) for d in project["project"]["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text("utf-8"))
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {_name(p) for p in dep["pip"] if not p.startswith("-e")}
        else:
            conda.add(CONDA_NAMES.get(_name(dep), _name(dep)))
    conda -= {"python", "pip"}
    assert conda | pip == wanted
    assert not conda & pip


def test_notebooks_are_stored_without_outputs() -> None:
    import nbformat

    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one 'parameters' cell"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (
                    f"{path.name} is stored with outputs"
                )
                assert not re.search(r"^\s*(def|class)\s", cell.source, re.M), (
                    f"{path.name} defines code; move it to the package"
                )


def test_every_notebook_declares_the_common_parameters() -> None:
    from accessibility import runner

    assert set(runner.notebooks()) >= {"facility_access", "reading_circle", "services"}
    for name in runner.notebooks():
        missing = set(runner.COMMON_PARAMETERS) - set(runner.declared_parameters(name))
        assert not missing, f"{name}.ipynb lacks parameters {missing}"
