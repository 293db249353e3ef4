"""Write the serving app's flag file for one deployment step (mode and canary fraction).

Deployments change behaviour by flag, not by redeploying: the serving app re-reads its flagd flag file
without a restart. Starting from the repository's own flag file keeps every other flag exactly as
reviewed, so a deployment step can only move the two values it is meant to move.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

MODES = ("skeleton", "shadow", "canary", "live")
MODE_FLAG = "serving-mode"
FRACTION_FLAG = "canary-fraction"


class FlagFileError(ValueError):
    """The base flag file cannot express the requested step."""


def set_mode(flags_doc: dict[str, Any], mode: str, canary_fraction: float) -> dict[str, Any]:
    """Return a copy of a flagd document whose default variants give `mode` and `canary_fraction`."""
    if mode not in MODES:
        raise FlagFileError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not math.isfinite(canary_fraction) or not 0.0 <= canary_fraction <= 1.0:
        raise FlagFileError(f"canary-fraction must be between 0 and 1, got {canary_fraction}")
    doc: dict[str, Any] = json.loads(json.dumps(flags_doc))
    flags = doc.get("flags")
    if not isinstance(flags, dict):
        raise FlagFileError("flag file has no 'flags' object (not a flagd flag file?)")
    mode_flag = _flag(flags, MODE_FLAG)
    variants = mode_flag["variants"]
    chosen = [name for name, value in variants.items() if value == mode]
    if not chosen:
        raise FlagFileError(f"flag {MODE_FLAG!r} has no variant whose value is {mode!r}")
    mode_flag["defaultVariant"] = chosen[0]
    mode_flag["state"] = "ENABLED"
    fraction_flag = _flag(flags, FRACTION_FLAG)
    fraction_variants = fraction_flag["variants"]
    same = [name for name, value in fraction_variants.items() if value == canary_fraction]
    if same:
        fraction_flag["defaultVariant"] = same[0]
    else:
        # A fraction the file does not name yet gets its own variant, so no named one changes meaning.
        name = f"deploy-{canary_fraction:g}"
        fraction_variants[name] = canary_fraction
        fraction_flag["defaultVariant"] = name
    fraction_flag["state"] = "ENABLED"
    return doc


def _flag(flags: dict[str, Any], name: str) -> dict[str, Any]:
    flag = flags.get(name)
    if not isinstance(flag, dict) or not isinstance(flag.get("variants"), dict):
        raise FlagFileError(f"flag file has no flag {name!r} with variants")
    if flag.get("defaultVariant") not in flag["variants"]:
        raise FlagFileError(f"flag {name!r} has no valid defaultVariant")
    return flag


def main(
    base: Annotated[Path, typer.Option(help="The repository's flagd flag file to start from.")],
    mode: Annotated[str, typer.Option(help="skeleton, shadow, canary or live.")],
    out: Annotated[Path, typer.Option(help="Where to write the new flag file.")],
    canary_fraction: Annotated[float, typer.Option(help="Share answered by the model in canary.")] = 0.0,
) -> None:
    """Write a flag file that serves MODE (and CANARY_FRACTION) and leaves every other flag as it is."""
    try:
        doc = json.loads(base.read_text(encoding="utf-8"))
        new = set_mode(doc, mode, canary_fraction)
    except (OSError, json.JSONDecodeError, FlagFileError) as exc:
        typer.echo(f"serving_flags: {exc}", err=True)
        raise typer.Exit(2) from None
    # Replace atomically: a serving app watching this file must never read half of it.
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    typer.echo(f"serving_flags: mode={mode} canary-fraction={canary_fraction} -> {out}")


if __name__ == "__main__":
    typer.run(main)
