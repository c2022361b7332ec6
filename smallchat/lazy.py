"""A module imported on first use, for a dependency that a page's first render does not need."""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands in for the module ``name``: the first attribute read imports it.

    The openai SDK takes about 0.4 s to import (hundreds of pydantic models), more than the
    rest of the chat page's start-up; the page first calls it when a message is sent.
    Attribute reads go through ``sys.modules`` once imported, and imports are thread-safe.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
