"""One duration parser for every flag and setting, and one count parser for flags. A bare number is
seconds; otherwise Go's duration syntax as kubectl takes it (`90s`, `5m`, `1h30m`, `1.5h`, `250ms`), plus `d`
and `w` for ages (`30d`, `2w`). NaN, infinity, signs and (unless allowed) zero are refused; every duration
has a ceiling."""

from __future__ import annotations

import re
from datetime import timedelta

from conveyor.errors import ConfigError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_BARE = re.compile(_NUMBER)
_PART = re.compile(rf"({_NUMBER})(ns|us|µs|ms|s|m|h|d|w)")
_WHOLE = re.compile(rf"(?:{_NUMBER}(?:ns|us|µs|ms|s|m|h|d|w))+")

ROLLOUT_MAX = timedelta(hours=24)
AGE_MAX = timedelta(days=3650)
EXAMPLES = "a number of seconds, or 90s, 5m, 1h30m, 30d, 2w"


def parse_duration(value: object, what: str, maximum: timedelta, allow_zero: bool = False) -> timedelta:
    """`value` (text, or a number from YAML) as a timedelta; ConfigError naming `what` (the flag, variable
    or file and key) when it is not a duration, is zero (unless `allow_zero`) or exceeds `maximum`."""
    text = str(value).strip().lower() if not isinstance(value, bool) else ""
    if _BARE.fullmatch(text):
        seconds = float(text)
    elif _WHOLE.fullmatch(text):
        seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))
    else:
        raise ConfigError(f"{what} {value!r} is not a duration", f"write {EXAMPLES}")
    if seconds == 0 and not allow_zero:
        raise ConfigError(f"{what} {value!r} is zero", f"give a positive duration: {EXAMPLES}")
    if seconds > maximum.total_seconds():
        raise ConfigError(f"{what} {value!r} is longer than the limit of {describe(maximum)}", "give a shorter one")
    return timedelta(seconds=seconds)


def describe(duration: timedelta) -> str:
    """A short human form: 600 s -> '10m', 3650 days -> '3650d'."""
    seconds = duration.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_count(flag: str, text: str) -> int | None:
    """A flag's whole number of at least 0 ("" = not given)."""
    if not text:
        return None
    if not text.isdigit():
        raise ConfigError(f"{flag} {text!r} is not a whole number", f"give {flag} 0 or more, or leave it out")
    return int(text)
