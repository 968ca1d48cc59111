"""The edge check's reading of raw paths and query strings (pure: bytes in, 400 or nothing)."""

from __future__ import annotations

import pytest

from rtk_sessions.edge import check_path, check_query
from rtk_sessions.kit.errors import BadRequest


@pytest.mark.parametrize(
    "query",
    [b"", b"&&", b"search=", b"search", b"search=a+b", b"search=%2B%26%3D", b"x=caf%C3%A9",
     b"x=%F0%9F%98%80", b"x=\xc3\xa9", b"associated_id=m-1.2:3_4", b"meeting_id="],
)  # fmt: skip
def test_text_passes(query: bytes) -> None:
    check_query(query)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"search=%00", "query parameter search: the value holds a NUL character (U+0000)"),
        (b"a=1&search=x%7Fy", "query parameter search: the value holds a control character (U+007F)"),
        (b"search=%09", "query parameter search: the value holds a control character (U+0009)"),
        (b"search=%FF", "query parameter search: not valid UTF-8 once percent-decoded"),
        (b"search=%ED%B0%80", "query parameter search: not valid UTF-8 once percent-decoded"),
        (b"search=%C0%80", "query parameter search: not valid UTF-8 once percent-decoded"),
        (b"%FF=1", "A query parameter's name is not valid UTF-8 once percent-decoded"),
        (b"a%0Ab=1", "query parameter a\nb: the name holds a control character (U+000A)"),
        (b"associated_id=a%20b", "query parameter associated_id: must be 1–128 characters"),
        (b"meeting_id=" + b"m" * 129, "query parameter meeting_id: must be 1–128 characters"),
        (b"x" * 100 + b"=%00", "query parameter " + "x" * 39 + "…: the value holds a NUL"),
    ],
)  # fmt: skip
def test_values_that_are_not_text_are_400(query: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        check_query(query)
    assert exc.value.message.startswith(message), exc.value.message


def test_path_parameters_follow_the_id_rules() -> None:
    check_path(b"/s/abc", {"session_id": "abc", "key": "a b/c"})  # only ids have id rules
    with pytest.raises(BadRequest, match="path parameter peer_id: must contain a character"):
        check_path(b"/p/...", {"peer_id": "..."})
    with pytest.raises(BadRequest, match="path parameter app_id: must be 1–128 characters"):
        check_path(b"/a/a%20b", {"app_id": "a b"})
    with pytest.raises(BadRequest, match=r"path parameter key: the value holds a NUL"):
        check_path(b"/files/a%00b", {"key": "a\x00b"})


def test_a_path_that_is_not_utf8_names_the_parameter_it_reached() -> None:
    # The router decodes `%FF` as U+FFFD; the raw path shows it was not text.
    with pytest.raises(BadRequest, match="path parameter session_id: not valid UTF-8"):
        check_path(b"/sessions/a%FFb", {"session_id": "a\ufffdb"})
    check_path(b"/sessions/a%EF%BF%BDb", {"key": "a\ufffdb"})  # a real U+FFFD is text
