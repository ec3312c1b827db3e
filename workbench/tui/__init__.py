"""The Textual TUI: `workbench` with no arguments. Reads the run store; never imports torch."""
