"""workbench: a terminal experiment workbench for training small GPT models."""

__version__ = "0.1.0"
