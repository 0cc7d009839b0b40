"""The Python example in README.md runs as written."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def python_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the Python section of README.md has one python code block"
    return str(blocks[0])


def test_the_readme_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    code = compile(python_example(), "README.md (Python section)", "exec")
    exec(code, {"__name__": "readme_example"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == "DOCUMENT_INVALID shape", printed
    assert os.getcwd() == str(ROOT)
