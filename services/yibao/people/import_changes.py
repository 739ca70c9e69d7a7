"""The people a register import changed, as its one audit entry lists them: by column.

An import (a death registry file, a group feed) changes up to 100,000 people in one run and
writes one audit entry for it. An object per person made that entry ~75,000 dicts, which the
audit chain's canonical encoding and the JSON column each walked value by value (a third of
the import's time); so the entry holds, per action, the people as one list and each field as
one column:

.. code-block:: text

    "persons": [17, 18, 25],                    every person changed, once each (history finds
                                                 a person's part of an import by it)
    "changes": {
      "person.group_tagged": {"persons": [17, 18], "tag": [901, 902], "group": "min_living",
                              "valid_from": "2026-11-01", "valid_to": null},
      "person.group_ended":  {"persons": [25], "tag": 880, "group": "min_living",
                              "before": {"valid_to": null}, "after": {"valid_to": "2026-11-01"}}
    }

A field is either a list, one value per person in the order of the action's ``persons``, or
one value every person of the action shares (never a list itself); ``before`` and ``after``
are objects of such fields. The field names are those of the per-person objects entries held
before (``changes`` a list of ``{"person": id, "action": …, field: value}``), which audit
entries keep forever and :func:`person_changes` still reads; both give the same changes.
"""

from __future__ import annotations

from typing import Any

#: the actions an import applies, in the order it applies them to one person (registered, then
#: tagged): a person's history lists their changes in this order, as the per-person list did
ACTIONS = ("person.registered", "person.changed", "person.group_tagged", "person.group_ended")
#: the keys of a per-person object (entries written before the columns) that are no field
_PER_PERSON_KEYS = ("person", "action")


def _shared_or_each(value: Any) -> Any:
    """A column whose values are all equal as that one value (a feed's rows mostly share their
    ``valid_from``, a tag's ``valid_to`` is mostly null); ``before``/``after`` field by field."""
    if isinstance(value, dict):
        return {k: _shared_or_each(v) for k, v in value.items()}
    if isinstance(value, list) and value and value.count(value[0]) == len(value):
        return value[0]
    return value


def action(persons: list[int], **fields: Any) -> dict[str, Any]:
    """One action's changes: ``fields`` are columns (lists aligned with ``persons``) or values
    every person shares; a column of equal values is stored as the one value."""
    return {"persons": persons, **{name: _shared_or_each(value) for name, value in fields.items()}}


def entry(actions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The audit detail's ``persons`` and ``changes`` of an import (actions that changed no one
    are left out)."""
    unknown = set(actions) - set(ACTIONS)
    assert not unknown, f"add {unknown} to ACTIONS, in the order an import applies it"
    done = {name: changes for name, changes in actions.items() if changes["persons"]}
    persons = list(dict.fromkeys(p for changes in done.values() for p in changes["persons"]))
    return {"persons": persons, "changes": done}


def _of_one(value: Any, index: int) -> Any:
    """A field's value for the person at ``index``: their value of a column, or the shared one."""
    if isinstance(value, dict):
        return {k: _of_one(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return value[index]
    return value


def _from_columns(changes: dict[str, Any], person_id: int) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(changes, key=lambda a: (ACTIONS.index(a) if a in ACTIONS else len(ACTIONS), a)):
        columns = changes[name]
        for index, person in enumerate(columns["persons"]):
            if person == person_id:
                fields = {k: _of_one(v, index) for k, v in columns.items() if k != "persons"}
                found.append((name, fields))
    return found


def _from_objects(changes: list[dict[str, Any]], person_id: int) -> list[tuple[str, dict[str, Any]]]:
    """Entries written before the columns: an object per person."""
    return [
        (str(change["action"]), {k: v for k, v in change.items() if k not in _PER_PERSON_KEYS})
        for change in changes
        if change.get("person") == person_id
    ]


def person_changes(detail: dict[str, Any], person_id: int) -> list[tuple[str, dict[str, Any]]]:
    """(action, fields) of each change the import made to the person, in the order it made them;
    from an entry in either format."""
    changes = detail.get("changes", [])
    if isinstance(changes, list):
        return _from_objects(changes, person_id)
    return _from_columns(changes, person_id)


def mentions(person_id: int) -> list[dict[str, Any]]:
    """JSONB containment patterns (``@>``) of an import entry that changed the person, one per
    format: the per-person objects and the ``persons`` list."""
    return [{"changes": [{"person": person_id}]}, {"persons": [person_id]}]
