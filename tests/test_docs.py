"""Docs that users rely on stay true to the code."""

from dataclasses import fields
from pathlib import Path

from thoropass_sso.conf import SSOSettings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_in_the_settings_reference():
    reference = (DOCS / "settings.md").read_text()
    keys = [f.name for f in fields(SSOSettings) if f.name.isupper()]  # lower-case: derived
    missing = [name for name in keys if f"`{name}`" not in reference]
    assert missing == []


def test_every_readme_link_to_docs_exists():
    readme = (DOCS.parent / "README.md").read_text()
    linked = {part.split(")")[0] for part in readme.split("](docs/")[1:]}
    assert linked
    assert [name for name in linked if not (DOCS / name).exists()] == []
