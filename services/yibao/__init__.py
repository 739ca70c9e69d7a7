"""yibao: the shared domain core of the medical-insurance fund backend.

The three services (``api``, ``settlement``, ``monitor``) import from here and never from
one another. Inside, every business noun has its own package; ``benefit`` is pure.
"""
