"""The package exports exactly the operations of the shared surface table
(tests/data/bindings-surface.json), which Node's exports are checked
against too."""

import inspect
import json
from pathlib import Path
from typing import Set

import apptemplate
from apptemplate.exceptions import TemplateError

TABLE = json.loads((Path(__file__).resolve().parents[3] / "tests/data/bindings-surface.json").read_text())


def names(section: str) -> Set[str]:
    return {row["python"] for row in TABLE[section] if row["python"] is not None}


def test_exports_match_the_shared_surface_table() -> None:
    exported = set(apptemplate.__all__)
    classes = {n for n in exported if inspect.isclass(getattr(apptemplate, n))
               and not issubclass(getattr(apptemplate, n), (TemplateError, dict))}
    functions = {n for n in exported if inspect.isbuiltin(getattr(apptemplate, n))
                 or inspect.isfunction(getattr(apptemplate, n))}
    assert classes == names("classes")
    assert functions == names("functions")
