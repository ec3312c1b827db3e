"""Regenerate README.md's config references from workbench/config.py, sweep_config.py and
workbench/command_file.py (the single sources)."""

from pathlib import Path

from workbench import command_file
from workbench.config import reference_markdown
from workbench.sweep_config import reference_markdown as sweep_reference

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text()
for name, body in (("config-reference", f"{reference_markdown()}\n{sweep_reference()}".rstrip("\n")),
                   ("command-reference", command_file.reference_markdown())):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = f"{head}{begin}\n{body}\n{end}{tail}"
readme.write_text(text)
print(f"updated {readme}")
