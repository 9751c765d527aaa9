"""Print the server's OpenAPI document: ``python -m kiseki.server.openapi > openapi.json``.

The web app's typed client is generated from this document at build time (``make ui``), so the
UI never carries a hand-written URL that could drift from the server.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def document() -> dict[str, Any]:
    from kiseki.server.app import create_app
    from kiseki.server.settings import ServerSettings

    return create_app(ServerSettings(data_dir="/nonexistent")).openapi()


def main() -> None:
    json.dump(document(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
