"""Imports every ``yibao.<concept>.orm`` module so ``Base.metadata`` is complete.

Discovered rather than listed, so a new concept's tables join Alembic and the tests by
existing, and parallel work on two concepts never edits the same line here.
"""

from __future__ import annotations

import importlib
import pkgutil

import yibao
from yibao.db.base import Base


def _import_orm_modules() -> None:
    for info in pkgutil.walk_packages(yibao.__path__, "yibao."):
        if info.name.endswith(".orm"):
            importlib.import_module(info.name)


_import_orm_modules()
metadata = Base.metadata
