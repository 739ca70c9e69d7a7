"""Declarative base with a constraint naming convention, so Alembic migrations are stable."""

from __future__ import annotations

from sqlalchemy import BigInteger, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FenColumn = BigInteger  # every money column is integer fen


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
