import pytest

from apps.message_templates.sms_parts import SmsParts, sms_parts, sms_preview_context


def test_empty_text_takes_no_parts():
    assert sms_parts("") == SmsParts("GSM-7", 0, 0, 160, 160)


def test_plain_ascii_is_gsm7():
    parts = sms_parts("Hello Ann, your order has shipped!")
    assert parts.encoding == "GSM-7"
    assert parts.characters == 34
    assert parts.parts == 1
    assert parts.remaining == 160 - 34


def test_gsm7_accented_letters_from_the_basic_table_stay_gsm7():
    assert sms_parts("ú").encoding == "UCS-2"  # ù is in the table, ú is not
    assert sms_parts("Café à Zürich, Ñoño, ¿qué? où £5 ¥9 §1 Øre").encoding == "GSM-7"


def test_160_gsm7_characters_fit_one_part_and_161_take_two():
    one = sms_parts("a" * 160)
    assert (one.encoding, one.characters, one.parts, one.per_part, one.remaining) == (
        "GSM-7",
        160,
        1,
        160,
        0,
    )
    two = sms_parts("a" * 161)
    assert (two.characters, two.parts, two.per_part, two.remaining) == (161, 2, 153, 145)


def test_multipart_gsm7_counts_153_per_part():
    assert sms_parts("a" * 306).parts == 2
    assert sms_parts("a" * 306).remaining == 0
    assert sms_parts("a" * 307).parts == 3
    assert sms_parts("a" * 459).parts == 3
    assert sms_parts("a" * 460).parts == 4


@pytest.mark.parametrize("char", ["€", "[", "]", "{", "}", "^", "~", "|", "\\"])
def test_gsm7_extension_characters_count_two(char):
    parts = sms_parts("Price " + char)
    assert parts.encoding == "GSM-7"
    assert parts.characters == 6 + 2


def test_extension_characters_push_a_message_over_the_single_part_limit():
    assert sms_parts("a" * 158 + "€").parts == 1
    assert sms_parts("a" * 158 + "€").characters == 160
    assert sms_parts("a" * 159 + "€").parts == 2
    assert sms_parts("a" * 159 + "€").characters == 161


def test_an_escape_sequence_is_not_split_across_parts():
    # 152 septets then €: the escape pair would straddle parts 1 and 2, so it moves to part 2.
    parts = sms_parts("a" * 152 + "€" + "a" * 152)
    assert parts.characters == 306
    assert parts.parts == 3
    assert sms_parts("a" * 151 + "€" + "a" * 153).parts == 2


def test_any_non_gsm_character_switches_the_whole_message_to_ucs2():
    parts = sms_parts("Hello ç Ann")  # lower-case ç is not in GSM 03.38
    assert parts.encoding == "UCS-2"
    assert parts.per_part == 70
    assert sms_parts("Привет").encoding == "UCS-2"
    assert sms_parts("你好").encoding == "UCS-2"


def test_70_ucs2_characters_fit_one_part_and_71_take_two():
    one = sms_parts("Ж" * 70)
    assert (one.encoding, one.characters, one.parts, one.remaining) == ("UCS-2", 70, 1, 0)
    two = sms_parts("Ж" * 71)
    assert (two.characters, two.parts, two.per_part, two.remaining) == (71, 2, 67, 63)
    assert sms_parts("Ж" * 134).parts == 2
    assert sms_parts("Ж" * 135).parts == 3


def test_emoji_count_as_two_utf16_units():
    parts = sms_parts("Hi 😀")
    assert parts.encoding == "UCS-2"
    assert parts.characters == 5
    assert sms_parts("😀" * 35).parts == 1
    assert sms_parts("😀" * 35).characters == 70
    assert sms_parts("😀" * 35 + "a").parts == 2


def test_a_surrogate_pair_is_not_split_across_parts():
    # 66 units then an emoji: it cannot straddle parts 1 and 2.
    parts = sms_parts("Ж" * 66 + "😀" + "Ж" * 66)
    assert parts.characters == 134
    assert parts.parts == 3


def test_bmp_symbols_outside_gsm_count_one_unit():
    assert sms_parts("✓ done").characters == 6
    assert sms_parts("✓ done").encoding == "UCS-2"


def test_summary_string_reads_like_the_preview():
    assert str(sms_parts("a" * 161)) == "161 characters · 2 parts · GSM-7"


def test_preview_context_carries_the_text_and_its_parts():
    context = sms_preview_context("Hi €")
    assert context["text"] == "Hi €"
    assert context["sms"] == SmsParts("GSM-7", 5, 1, 160, 155)
