"""A script's or a command's own config (workbench.init's dict, a command's argv and env):
any nesting, stored as the run's config.toml, shown and diffed as dotted keys."""

from __future__ import annotations

from typing import Any


def dict_to_toml(config: dict[str, Any]) -> str:
    """A script's config as TOML: nested dicts stay tables; None and values TOML cannot hold
    (objects, tuples of mixed types) are written as their str()."""
    import tomli_w

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, (list, tuple)):
            items = [clean(x) for x in v if x is not None]
            return items if len({type(x) for x in items}) <= 1 else [str(x) for x in items]
        if isinstance(v, (bool, int, float, str)):
            return v
        if hasattr(v, "item"):  # numpy and torch scalars
            try:
                return clean(v.item())
            except (TypeError, ValueError):
                pass
        return str(v)

    return tomli_w.dumps(clean(dict(config or {})))
