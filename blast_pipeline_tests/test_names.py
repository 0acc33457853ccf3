"""Transient names are validated like Blast's and can never reach a file path unchecked."""

from __future__ import annotations

import pytest

from blast_pipeline.names import InvalidTransientName, validate_transient_name


@pytest.mark.parametrize(
    "name", ["2024abc", "2022testone", "ZTF21aaaaaaa", "a1", "x" * 64, "my-sn_1"]
)
def test_valid_names(name):
    assert validate_transient_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is empty"),
        ("../x", "may contain only"),
        ("a/b", "may contain only"),
        ("..", "may contain only"),
        ("SN2024abc", "SN/AT prefix"),
        ("at2024abc", "SN/AT prefix"),
        ("x" * 65, "65 characters long"),
        ("a__b", "'--' or '__'"),
        ("a--b", "'--' or '__'"),
        (" 2024abc", "whitespace"),
        ("2024 abc", "may contain only"),
        ("_2024abc", "may contain only"),
        ("2024abc-", "may contain only"),
        ("a", "may contain only"),
        (None, "must be a string"),
    ],
)
def test_invalid_names_say_why(name, reason):
    with pytest.raises(InvalidTransientName, match=None) as excinfo:
        validate_transient_name(name)
    assert reason in str(excinfo.value)
