"""JSON response rendered by orjson (FastAPI's own JSON is deprecated).

A ``JSONResponse`` subclass on purpose: FastAPI documents an operation's ``response_model`` only
when the response class is one; with a plain ``Response`` every success showed as ``"string"``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
