"""The docs stay true: every setting is documented, and every doc the README links exists."""

from __future__ import annotations

import re
from pathlib import Path

from jwtkeep.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    missing = [name for name in Settings.model_fields if f"JWTKEEP_{name.upper()}" not in text]
    assert missing == []


def test_readme_links_point_at_files() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#:]+)\)", readme)
    assert links, "the README links its docs"
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().splitlines()[:8]
    assert any(line.startswith("make run") for line in head)
    assert any(line.startswith("make test") for line in head)
