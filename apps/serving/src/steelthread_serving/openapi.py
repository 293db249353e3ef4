"""Render the app's OpenAPI document deterministically, for `docs/api/openapi.json` and its CI diff.

Each use case publishes its own document: the default use case's is `docs/api/openapi.json` (the path
consuming teams know), any other's `docs/api/openapi.<name>.json`, so running the suite or CI on another
use case compares its API with its own reviewed file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr

from steelthread_contracts.usecase import DEFAULT_USECASE

DOC_PATH = Path("docs/api/openapi.json")


def document_path(use_case: str) -> Path:
    """Where the use case's checked-in API document lives, relative to the repository root."""
    if use_case == DEFAULT_USECASE:
        return DOC_PATH
    return DOC_PATH.with_name(f"openapi.{use_case}.json")


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
    from steelthread_serving.usecase import USE_CASE

    target = Path(paths[0]) if paths else document_path(USE_CASE.name)
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
