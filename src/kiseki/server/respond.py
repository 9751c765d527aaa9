"""JSON answers that keep NaN/±Inf (as tagged objects) instead of failing to encode them."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import Response

from kiseki.core.values import to_json_safe


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(msgspec.json.encode(to_json_safe(data)), status_code=status_code,
                    media_type="application/json")
