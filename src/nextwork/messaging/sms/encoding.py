"""How many SMS a text costs: GSM-7 or UCS-2, segments, and the price of a send.

A text is sent in the GSM 03.38 alphabet (7-bit "septets") when every character is in it,
otherwise in UCS-2 (UTF-16 code units). The character table comes from the ``gsm0338``
codec (3GPP TS 23.038): characters of the basic set take one septet, those of the extension
table (``€ [ ] { } \\ ^ ~ |`` and form feed) take two (an escape, then the character).

    one message        160 septets   70 UCS-2 units
    concatenated, each 153 septets   67 UCS-2 units   (the rest carries the part header)

A concatenated message never splits an escape pair nor a surrogate pair (an emoji counts two
UCS-2 units) across two segments, as handsets and providers do, so a segment may hold one
unit less than the maximum.

French writers should know that the basic set holds ``é è à ù ì ò É Ç`` but not ``ê â î ô û
ç ë ï œ`` nor the typographic apostrophe ``’``: one of them turns the whole text into UCS-2,
70 characters a segment instead of 160. ``SmsParts.non_gsm`` lists them so a form can say so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from django.conf import settings

from nextwork.common.errors import InvalidInput

GSM7 = "gsm7"
UCS2 = "ucs2"

SINGLE = {GSM7: 160, UCS2: 70}
CONCATENATED = {GSM7: 153, UCS2: 67}
CURRENCY = "EUR"


@functools.lru_cache(maxsize=4096)
def gsm_septets(char: str) -> int:
    """Septets one character takes in GSM-7: 1 (basic set), 2 (extension table), 0 when it
    is not in the alphabet."""
    if char == "\x1b":  # the escape itself is not a character one can write
        return 0
    try:
        return len(char.encode("gsm03.38"))
    except UnicodeEncodeError:
        return 0


def ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def is_gsm7(text: str) -> bool:
    return all(gsm_septets(c) for c in text)


@dataclass(frozen=True)
class SmsParts:
    encoding: str  # GSM7 or UCS2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    non_gsm: tuple[str, ...]  # the distinct characters that forced UCS-2, in order of use

    @property
    def per_segment(self) -> int:
        """Units one segment holds for this text."""
        return (SINGLE if self.segments <= 1 else CONCATENATED)[self.encoding]


def _widths(text: str) -> tuple[str, list[int], tuple[str, ...]]:
    non_gsm = tuple(dict.fromkeys(c for c in text if not gsm_septets(c)))
    if non_gsm:
        return UCS2, [ucs2_units(c) for c in text], non_gsm
    return GSM7, [gsm_septets(c) for c in text], ()


def split_segments(text: str) -> list[str]:
    """The text cut as it travels: one part, or parts of at most 153 septets / 67 units."""
    encoding, widths, _ = _widths(text)
    if sum(widths) <= SINGLE[encoding]:
        return [text] if text else []
    limit = CONCATENATED[encoding]
    parts: list[str] = []
    start = used = 0
    for i, width in enumerate(widths):
        if used + width > limit:
            parts.append(text[start:i])
            start, used = i, 0
        used += width
    parts.append(text[start:])
    return parts


def analyse(text: str) -> SmsParts:
    """Encoding, length in units and number of segments of one message (0 when empty)."""
    encoding, widths, non_gsm = _widths(text)
    return SmsParts(
        encoding=encoding,
        units=sum(widths),
        segments=len(split_segments(text)),
        non_gsm=non_gsm,
    )


def segment_count(text: str) -> int:
    return analyse(text).segments


@dataclass(frozen=True)
class CostEstimate:
    encoding: str
    segments_per_message: int
    recipients: int
    total_segments: int
    price_per_segment: Decimal
    cost: Decimal
    currency: str = CURRENCY


def _price(value: Decimal | str | None) -> Decimal:
    raw = settings.NEXTWORK_SMS_PRICE_PER_SEGMENT if value is None else value
    try:
        price = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise InvalidInput(
            f"The price per SMS segment must be a decimal number in euros, like 0.045 "
            f"(got {raw!r}).",
            field="price_per_segment",
        ) from exc
    if not price.is_finite() or price < 0:
        raise InvalidInput(
            "The price per SMS segment must be zero or more.", field="price_per_segment"
        )
    return price


def estimate_cost(
    body: str, recipients: int, price_per_segment: Decimal | str | None = None
) -> CostEstimate:
    """What sending ``body`` to ``recipients`` people costs, before any is sent.

    The price comes from ``NEXTWORK_SMS_PRICE_PER_SEGMENT`` (euros) unless given; the cost is
    exact (not rounded) so a screen can round it as it likes.
    """
    if isinstance(recipients, bool) or not isinstance(recipients, int) or recipients < 0:
        raise InvalidInput(
            "The number of recipients must be a whole number, 0 or more.", field="recipients"
        )
    price = _price(price_per_segment)
    parts = analyse(body)
    total = parts.segments * recipients
    return CostEstimate(
        encoding=parts.encoding,
        segments_per_message=parts.segments,
        recipients=recipients,
        total_segments=total,
        price_per_segment=price,
        cost=price * total,
    )
