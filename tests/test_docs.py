"""The README documents every setting, with the default the code really uses (Datasette-style).

Docs drift silently; a failing test is the cheapest reminder to add a row with a new setting.
"""

from __future__ import annotations

import re
from pathlib import Path

from heron.config import SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\|\s*`(?P<name>[a-z_]+)`\s*\|(?P<cells>.*)\|\s*$")


def configuration_table() -> dict[str, list[str]]:
    """Rows of the first table under the "## Configuration" heading: name -> other cells."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            rows[match["name"]] = [cell.strip() for cell in match["cells"].split("|")]
    return rows


def test_every_setting_is_documented_with_its_default() -> None:
    rows = configuration_table()
    assert set(rows) == {s.name for s in SETTINGS}, "README's configuration table and config.SETTINGS differ"
    for setting in SETTINGS:
        flag, env, default, meaning = rows[setting.name]
        assert flag == f"`{setting.flag}`"
        assert env == f"`{setting.env}`"
        assert default == f"`{setting.default}`", setting.name
        assert meaning


def test_readme_quick_start_comes_first() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.splitlines() if line.startswith("make ")]
    assert commands == ["make run", "make test"]


def test_every_http_route_is_documented_in_api_md() -> None:
    """Datasette-style: a route nobody documented is a route nobody can rely on."""
    from heron.api.app import create_app
    from heron.api.state import AppState

    api_md = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    app = create_app(AppState())
    paths = [r.path for r in app.routes]  # type: ignore[attr-defined]
    assert paths
    missing = [p for p in paths if p.replace("{name}", "<name>") not in api_md]
    assert not missing, f"routes missing from docs/api.md: {missing}"
