"""The national platform's vocabulary (国家医保信息平台 ``infno`` interface): the message journal
(``msgid`` idempotency), the visit state HIS systems build up between calls (``mdtrt_id``), the
national catalogue-code mapping, and pure mappers from the native settlement to ``setlinfo``.

No business rule lives here: settling, previewing and cancelling are the native
``bill_settlement`` use cases; this noun only remembers what the envelope needs between calls.
"""
