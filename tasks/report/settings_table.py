"""docs/settings.md's table, read from the settings class itself."""
from __future__ import annotations

import typing
from pathlib import Path

from tasks.common.settings import PROJECT_ROOT, Settings, env_name
from tasks.report.markdown import Source, block, table


def _type(annotation) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if args:
        return " \\| ".join(_type(a) for a in args)
    return getattr(annotation, "__name__", str(annotation))


def _default(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_relative_to(PROJECT_ROOT):
        return f"`{value.relative_to(PROJECT_ROOT)}/`"
    return f"`{value}`"


def settings(root: Path) -> str:
    rows = [[f"`{env_name(name)}`", _type(field.annotation), _default(field.default), field.description]
            for name, field in Settings.model_fields.items()]
    return block(table(["variable", "type", "default", "what it sets"], rows), Source(("tasks/common/settings.py",)))


TABLES = {"settings": settings}
