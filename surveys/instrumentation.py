"""Which instruments an assessment uses, from the version string pinned on it.

The pinned string (``"FACT-B@4+E2108-LR@draft-1"``) names each instrument and
its version, so an assessment keeps the form it was created with even after
a newer instrument version ships.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from scoring.instruments import Instrument, Item, Section, get_instrument


def pin(instrument_codes: Iterable[str]) -> str:
    return "+".join(f"{code}@{get_instrument(code).version}" for code in instrument_codes)


@lru_cache(maxsize=32)
def instruments(pinned: str) -> tuple[Instrument, ...]:
    """The instruments of a pinned version string; KeyError if one is not shipped."""
    parts = []
    for part in pinned.split("+"):
        code, _, version = part.partition("@")
        parts.append(get_instrument(code, version or None))
    return tuple(parts)


@lru_cache(maxsize=32)
def items(pinned: str) -> dict[str, Item]:
    """Item code -> item, in form order."""
    return {item.code: item for inst in instruments(pinned) for item in inst.items}


def sections(pinned: str) -> tuple[Section, ...]:
    return tuple(section for inst in instruments(pinned) for section in inst.sections)
