"""Imports every ORM module so ``Base.metadata`` is complete (Alembic and tests use it)."""

from yibao.accounts import orm as _accounts  # noqa: F401
from yibao.auth import orm as _auth  # noqa: F401
from yibao.bill_settlement import orm as _bill  # noqa: F401
from yibao.catalogue import orm as _catalogue  # noqa: F401
from yibao.db.base import Base
from yibao.enrolment import orm as _enrolment  # noqa: F401
from yibao.events import orm as _events  # noqa: F401
from yibao.institutions import orm as _institutions  # noqa: F401
from yibao.people import orm as _people  # noqa: F401
from yibao.policy import orm as _policy  # noqa: F401

metadata = Base.metadata
