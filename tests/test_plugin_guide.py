"""The plugin authors' guide (docs/plugins.md) holds the plugin API as it is:
every hook declared in ``comicsrv/hookspecs.py`` has a section there and a
test in this suite, and the guide's excerpts of the worked example are the
example's code. A hook added without both fails here."""
from __future__ import annotations

import ast
import inspect
import re
import tomllib
from pathlib import Path

import pytest

from comicsrv import hookspecs
from comicsrv.plugins import ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "examples" / "comicsrv-example-plugin"
HOOKS = sorted(name for name, fn in vars(hookspecs.Hooks).items()
               if getattr(fn, f"{hookspecs.PROJECT}_spec", None) is not None)
# A guide excerpt: "<!-- from <path> -->" right before a fenced block.
EXCERPT = re.compile(r"<!-- from (?P<path>\S+) -->\n```\w*\n(?P<code>.*?)\n```", re.S)


def sections() -> dict[str, str]:
    """The guide's headings naming a hook (``### `comicsrv_x` ``), with their text."""
    found: dict[str, str] = {}
    parts = re.split(r"^(#{2,4} .*)$", GUIDE.read_text(), flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2]):
        for name in re.findall(r"`(comicsrv_\w+)`", heading):
            found[name] = body
    return found


def test_the_hooks_are_found():
    # The introspection itself: pluggy's marker, on the methods of Hooks.
    assert {"comicsrv_indexers", "comicsrv_notifiers", "comicsrv_event"} <= set(HOOKS)


def test_every_hookspec_in_the_source_is_a_hook_of_hooks():
    """The source read apart from the introspection: every function marked
    ``@hookspec`` (or ``@hookspec(...)``) anywhere in hookspecs.py is one of
    HOOKS, so none escapes the checks below by living outside ``Hooks``
    (which is all the registry adds as specs)."""
    def marked(node: ast.AST) -> bool:
        return any((d.func if isinstance(d, ast.Call) else d).id == "hookspec"
                   for d in getattr(node, "decorator_list", [])
                   if isinstance(d.func if isinstance(d, ast.Call) else d, ast.Name))

    tree = ast.parse(Path(hookspecs.__file__).read_text())
    declared = sorted(node.name for node in ast.walk(tree)
                      if isinstance(node, ast.FunctionDef) and marked(node))
    assert declared == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_naming_its_arguments(hook):
    body = sections().get(hook)
    assert body is not None, f"docs/plugins.md has no section headed `{hook}`"
    for argument in inspect.signature(getattr(hookspecs.Hooks, hook)).parameters:
        if argument != "self":
            assert f"`{argument}`" in body, f"the section of {hook} does not name `{argument}`"
    assert "```python" in body, f"the section of {hook} has no code example"


def test_no_section_documents_a_hook_that_does_not_exist():
    assert sorted(set(sections()) - set(HOOKS)) == []


def _test_modules() -> dict[Path, str]:
    this = Path(__file__).resolve()
    # Test modules and the plugins they install (tests/cluster/probe_plugin).
    return {path: path.read_text() for path in (ROOT / "tests").rglob("*.py")
            if path.resolve() != this and "node_modules" not in path.parts}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_exercised_by_a_test(hook):
    """A test implements the hook (``def comicsrv_x(``) or calls it by name
    (``registry.call("comicsrv_x")``, or asserts a plugin's hook list)."""
    uses = re.compile(rf"def {hook}\(|[\"']{hook}[\"']")
    assert [path for path, text in _test_modules().items() if uses.search(text)], \
        f"no test module under tests/ implements or calls {hook}"


def test_the_guides_excerpts_are_the_example_code():
    excerpts = list(EXCERPT.finditer(GUIDE.read_text()))
    sources = {match["path"] for match in excerpts}
    assert sources >= {str(path.relative_to(ROOT)) for path in (EXAMPLE / "src").rglob("*.py")
                       if path.name != "__pycache__"}, "every example module is shown in the guide"
    for match in excerpts:
        source = (ROOT / match["path"]).read_text()
        assert match["code"] in source, f"the guide's excerpt of {match['path']} has drifted"


def test_the_example_registers_under_the_entry_point_group_the_guide_names():
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    assert project["project"]["entry-points"][ENTRY_POINT_GROUP] == {"example": "comicsrv_example"}
    assert f"**`{ENTRY_POINT_GROUP}`**" in GUIDE.read_text()
