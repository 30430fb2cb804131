"""SMS encoding and cost: GSM-7 or UCS-2, segments of 160/153 septets or 70/67 units."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextwork.common.errors import InvalidInput
from nextwork.messaging.sms.encoding import (
    GSM7,
    UCS2,
    analyse,
    estimate_cost,
    is_gsm7,
    segment_count,
    split_segments,
)


def _gsm_alphabet() -> tuple[list[str], list[str]]:
    basic = [bytes([i]).decode("gsm03.38") for i in range(128) if i != 0x1B]
    extension = []
    for i in range(128):
        try:
            extension.append(bytes([0x1B, i]).decode("gsm03.38"))
        except UnicodeDecodeError:
            pass
    return basic, extension


BASIC, EXTENSION = _gsm_alphabet()
gsm_text = st.text(alphabet=st.sampled_from(BASIC + EXTENSION), max_size=700)
any_text = st.text(max_size=400)


# -- known examples ------------------------------------------------------------------------------


def test_the_table_is_gsm_03_38():
    assert len(BASIC) == 127 and set(EXTENSION) == set("\f^{}\\[~]|€")
    assert {"@", "£", "$", "é", "è", "ù", "à", "É", "Ç", "Ñ", "ß", "¿"} <= set(BASIC)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("€", GSM7, 2, 1),
        ("€" * 80, GSM7, 160, 1),
        ("€" * 81, GSM7, 162, 2),
        ("[Alerte] {75-02}", GSM7, 20, 1),
        ("Réunion à l'école à 18 h", GSM7, 24, 1),
        ("Réunion à l'école, Noël", UCS2, 23, 1),  # ë is not in the table
        ("é", GSM7, 1, 1),
        ("ê", UCS2, 1, 1),
        ("ç", UCS2, 1, 1),  # only the capital Ç is in the table
        ("Ç", GSM7, 1, 1),
        ("l’association", UCS2, 13, 1),  # the typographic apostrophe
        ("😀", UCS2, 2, 1),  # one emoji, two UTF-16 units
        ("ê" * 70, UCS2, 70, 1),
        ("ê" * 71, UCS2, 71, 2),
        ("ê" * 134, UCS2, 134, 2),
        ("ê" * 135, UCS2, 135, 3),
        ("a" * 68 + "😀", UCS2, 70, 1),
        ("a" * 69 + "😀", UCS2, 71, 2),
    ],
)
def test_known_examples(text, encoding, units, segments):
    parts = analyse(text)
    assert (parts.encoding, parts.units, parts.segments) == (encoding, units, segments)
    assert segment_count(text) == segments


def test_the_characters_that_force_ucs2_are_named_once_in_order():
    parts = analyse("Fête de la forêt : ça commence à 10 h ! 🎉")
    assert parts.non_gsm == ("ê", "ç", "🎉")
    assert analyse("Fete").non_gsm == ()


def test_an_escape_pair_is_never_split_across_segments():
    text = "a" * 152 + "€" + "a" * 10  # 164 septets; the euro would straddle 153 and 154
    assert split_segments(text) == ["a" * 152, "€" + "a" * 10]


def test_an_emoji_is_never_split_across_segments():
    text = "ê" * 66 + "😀" + "ê" * 4  # 72 units: the emoji would straddle units 67 and 68
    assert split_segments(text) == ["ê" * 66, "😀" + "ê" * 4]


# -- properties ---------------------------------------------------------------------------------


@given(gsm_text)
def test_gsm_text_counts_septets_and_cuts_at_153(text):
    parts = analyse(text)
    assert parts.encoding == GSM7 and is_gsm7(text)
    assert parts.units == len(text.encode("gsm03.38"))
    pieces = split_segments(text)
    assert "".join(pieces) == text and len(pieces) == parts.segments
    if parts.units <= 160:
        assert parts.segments == (1 if text else 0)
    else:
        assert all(len(p.encode("gsm03.38")) <= 153 for p in pieces)
        # greedy cutting loses at most one septet per segment (an escape pair moved on)
        assert math.ceil(parts.units / 153) <= parts.segments <= math.ceil(parts.units / 152)


@given(any_text, st.characters(blacklist_categories=["Cs"]).filter(lambda c: not is_gsm7(c)))
def test_one_character_outside_the_table_makes_it_ucs2(text, odd):
    text = text + odd
    parts = analyse(text)
    assert parts.encoding == UCS2 and odd in parts.non_gsm
    assert parts.units == len(text.encode("utf-16-le")) // 2
    pieces = split_segments(text)
    assert "".join(pieces) == text and len(pieces) == parts.segments
    limit = 70 if parts.segments == 1 else 67
    assert all(len(p.encode("utf-16-le")) // 2 <= limit for p in pieces)


@given(any_text, st.characters(blacklist_categories=["Cs"]))
def test_a_longer_text_never_costs_fewer_segments(text, extra):
    assert segment_count(text + extra) >= segment_count(text)


# -- cost ---------------------------------------------------------------------------------------


def test_cost_of_a_two_segment_text_to_a_thousand_members():
    estimate = estimate_cost("a" * 161, 1000, "0.045")
    assert estimate.segments_per_message == 2
    assert estimate.total_segments == 2000
    assert estimate.cost == Decimal("90")
    assert isinstance(estimate.cost, Decimal) and estimate.currency == "EUR"


def test_cost_reads_the_price_from_the_settings(settings):
    settings.NEXTWORK_SMS_PRICE_PER_SEGMENT = "0.07"
    estimate = estimate_cost("Fête 🎉", 3)
    assert estimate.encoding == UCS2
    assert estimate.price_per_segment == Decimal("0.07")
    assert estimate.cost == Decimal("0.21")


@pytest.mark.parametrize(
    ("recipients", "price", "field"),
    [
        (-1, "0.045", "recipients"),
        (True, "0.045", "recipients"),
        (10, "abc", "price_per_segment"),
        (10, "-0.01", "price_per_segment"),
        (10, "NaN", "price_per_segment"),
    ],
)
def test_cost_refuses_bad_input_with_the_field_named(recipients, price, field):
    with pytest.raises(InvalidInput) as error:
        estimate_cost("hello", recipients, price)
    assert error.value.field == field
