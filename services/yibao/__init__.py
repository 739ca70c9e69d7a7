"""yibao: the shared domain core of the medical-insurance fund backend.

The three services (``api``, ``settlement``, ``monitor``) and the operators' ``tools`` import
from here and never from one another; the core imports none of them. Inside, every business
noun has its own package, which alone writes its tables; its ``service`` functions are the use
cases (they take the unit of work and an actor, audit, and commit). Floors, lowest first:
values/money/clock → db → events → messaging → nouns → cli/runtime (import-linter keeps them).
"""
