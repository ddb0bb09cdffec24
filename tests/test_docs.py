"""The docs check: generated blocks equal their command's output, links resolve, documented commands parse."""
from __future__ import annotations

from pathlib import Path

from unlearnbench.devtools.docs import check, dead_links, documented_commands, regenerate, slug, unparsable

ROOT = Path(__file__).parents[1]


def _repo(tmp_path: Path, readme: str, **docs: str) -> Path:
    (tmp_path / "README.md").write_text(readme)
    (tmp_path / "docs").mkdir()
    for name, text in docs.items():
        (tmp_path / "docs" / f"{name}.md").write_text(text)
    return tmp_path


def test_a_generated_block_is_filled_with_its_commands_output(tmp_path):
    text = "intro\n<!-- generated: unlearnbench models -->\nstale\n<!-- end generated -->\n"
    filled = regenerate(text, tmp_path)
    assert "stale" not in filled and "mlp " in filled and filled.endswith("<!-- end generated -->\n")


def test_a_stale_block_is_reported(tmp_path):
    root = _repo(tmp_path, "<!-- generated: unlearnbench models -->\nold numbers\n<!-- end generated -->\n")
    assert [p.what for p in check(root)] == [
        "a generated block differs from its command's output (run python -m unlearnbench.devtools.docs)"]


def test_a_link_to_a_missing_file_or_heading_is_reported(tmp_path):
    root = _repo(tmp_path, "[a](docs/a.md#present) [b](docs/gone.md) [c](docs/a.md#absent) [d](https://x.org)\n",
                 a="# Title\n\n## Present\n")
    assert sorted(p.what for p in dead_links(root / "README.md")) == [
        "link to docs/a.md#absent: no heading with that anchor", "link to docs/gone.md: no such file"]


def test_a_documented_command_the_parser_refuses_is_reported(tmp_path):
    root = _repo(tmp_path, "```bash\nunlearnbench run --seed $S --no-such-flag\nunlearnbench results --format csv\n```\n")
    assert [p.what for p in unparsable(root / "README.md")] == [
        "command no longer parses: unlearnbench run --seed $S --no-such-flag"]


def test_commands_are_found_after_shell_keywords_and_continuations():
    text = "```bash\nfor s in 0 1; do unlearnbench run --seed $s \\\n  --forget 0; done\n```\n```python\nunlearnbench run\n```\n"
    assert list(documented_commands(text)) == ["unlearnbench run --seed $s --forget 0"]


def test_headings_become_githubs_anchors():
    assert slug("The yardstick: forgetting, utility and privacy scored apart") == \
        "the-yardstick-forgetting-utility-and-privacy-scored-apart"
    assert slug("SSD's data pipeline") == "ssds-data-pipeline"


def test_the_repositorys_documents_pass_the_check():
    assert [str(p) for p in check(ROOT)] == []
