"""`import kiseki` stays light: no web framework, ORM, numpy or HTTP client at import."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("fastapi", "starlette", "sqlalchemy", "numpy", "httpx", "alembic", "uvicorn", "psutil",
         "pandas", "pyarrow", "kiseki.store", "kiseki.server")


def test_import_kiseki_loads_no_heavy_modules() -> None:
    code = ("import sys, json, kiseki; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_wandb_shaped_facade() -> None:
    import kiseki

    for name in ("init", "log", "finish", "config", "summary", "define_metric", "alert", "Api",
                 "Settings", "run"):
        assert hasattr(kiseki, name) or name in ("config", "summary"), name
    assert kiseki.run is None
