"""Reference data: loading it from files (``loader``, the ``yibao load-reference`` command) and
the in-process cache every settlement reads it through (``cache``).

Reference data is the catalogue, the institutions, the DIP groups, the monitoring rules and
the policy versions: several nouns' tables, loaded together, so it has its own home rather
than living in one of them.
"""

from yibao.reference.cache import ReferenceCache, ReferenceData, load_reference_data

__all__ = ["ReferenceCache", "ReferenceData", "load_reference_data"]
