"""Every button's callback data goes through one codec, both ways."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.taps import StaffTap, button, decode, encode, whole_number
from flows.core import Button

SAFE = st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), max_size=12)


@given(st.integers(0, 10_000), st.text(max_size=40))
def test_an_answer_button_reads_back_as_itself(step: int, value: str) -> None:
    assert decode(encode(Button(step, value))) == Button(step, value)


@given(SAFE, SAFE, st.text(max_size=20))
def test_a_staff_button_reads_back_as_itself(verb: str, reference: str, arg: str) -> None:
    tap = StaffTap(verb or "claim", reference, arg)
    assert decode(encode(tap)) == tap


def test_real_buttons_stay_within_telegrams_64_bytes() -> None:
    longest = [Button(9999, "pick_2"), StaffTap("outcome", "SP-7K3Q", "referred_to_activity")]
    assert all(len(encode(tap).encode()) <= 64 for tap in longest)


def test_data_from_elsewhere_is_an_answer_to_no_question() -> None:
    """Stale by construction: the flow changes nothing and the tap is still answered."""
    assert decode("") == Button(-1, "")
    assert decode("x:yes") == Button(-1, "yes")
    assert decode("s") == Button(-1, "")
    assert decode("²:x") == Button(-1, "x")  # isdigit() says yes to "²"; int() does not


def test_a_whole_number_is_the_digits_0_to_9_only() -> None:
    assert [whole_number(t) for t in ("12", "0", "²", "٣", "-1", "1.5", "")] == [
        12, 0, None, None, None, None, None
    ]  # fmt: skip


def test_a_button_is_its_label_and_its_data() -> None:
    assert button("Claim SP-7K3Q", StaffTap("claim", "SP-7K3Q")) == {
        "text": "Claim SP-7K3Q",
        "data": "s:claim:SP-7K3Q:",
    }
