"""workbench: a terminal experiment workbench for training small GPT models.

The recording API is here too, loaded on first use so that `import workbench` stays
light (no torch, no Textual):

    import workbench
    workbench.init(config={"lr": 3e-4}, name="my-exp")
    workbench.log({"train/loss": 2.1}, step=10)
    workbench.log_text("sample", "ROMEO: ...", step=10)
    workbench.finish()
"""

__version__ = "0.1.0"

_API = ("init", "log", "log_text", "finish", "Recorder")


def __getattr__(name: str):
    if name in _API:
        from workbench import recording

        value = getattr(recording, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_API))
