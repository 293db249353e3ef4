"""Render the app's OpenAPI document deterministically, for `docs/api/openapi.json` and its CI diff."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr

DOC_PATH = Path("docs/api/openapi.json")


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    """`python -m steelthread_serving.openapi [--check] [PATH]`: write, or fail when the file differs."""
    from steelthread_serving.app import create_app
    from steelthread_serving.settings import ServingSettings

    args = sys.argv[1:]
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    target = Path(paths[0]) if paths else DOC_PATH
    settings = ServingSettings(api_keys=[SecretStr("openapi-render-only-key")])
    text = render(openapi_document(create_app(settings)))
    if check:
        current = target.read_text() if target.exists() else ""
        if current != text:
            print(f"error: {target} differs from the app's schema; run `make openapi` and commit it")
            sys.exit(1)
        print(f"{target} matches the app's schema")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
