"""Regenerate README.md's config reference from workbench/config.py (the single source)."""

from pathlib import Path

from workbench.config import reference_markdown

BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text()
head, rest = text.split(BEGIN, 1)
_, tail = rest.split(END, 1)
readme.write_text(f"{head}{BEGIN}\n{reference_markdown()}\n{END}{tail}")
print(f"updated {readme}")
