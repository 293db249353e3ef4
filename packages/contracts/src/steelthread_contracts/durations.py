"""Durations as operators write them (`30m`, `24h`, `450d`): one parser for the CLI options and the settings.

The same spelling works for `--window`, `--label-delay` and the settings that mirror them, so a
value copied from one to the other means the same thing.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str, allow_zero: bool = False) -> timedelta:
    """'90s', '30m', '24h', '7d', '2w' → timedelta; ValueError names the accepted form."""
    match = _PATTERN.fullmatch(text.strip())
    if match is None or (int(match.group(1)) == 0 and not allow_zero):
        least = "a number >= 0" if allow_zero else "a positive number"
        raise ValueError(f"{text!r}: use {least} with s, m, h, d or w, e.g. 24h")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_duration(value: timedelta) -> str:
    """The largest whole unit that spells `value` exactly ('450d', '4h', '0s'): messages and summaries."""
    seconds = int(value.total_seconds())
    for suffix, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"
