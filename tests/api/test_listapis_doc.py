"""docs/api.md lists exactly the implemented commands (its table is generated)."""

from __future__ import annotations

from pathlib import Path

from cloudplane.api import doc

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_command_table_in_docs_is_current() -> None:
    page = PAGE.read_text()
    assert doc.BEGIN in page and doc.END in page
    assert doc.replace_section(page, doc.registry()) == page, (
        "docs/api.md's command table is stale: run `python -m cloudplane.api.doc --write docs/api.md`")


def test_replace_section_is_idempotent_and_appends_when_missing() -> None:
    reg = doc.registry()
    once = doc.replace_section("# Page\n", reg)
    assert once.startswith("# Page\n\n" + doc.BEGIN) and once.endswith(doc.END + "\n")
    assert doc.replace_section(once, reg) == once
    assert "| `listEvents` |" in once and f"{len(reg)} commands." in once
