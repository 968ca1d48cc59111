"""Deterministic ids: our UUIDv5 is the standard library's, byte for byte."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.kit.ids import uuid5_text


@given(st.text(max_size=300))
def test_uuid5_text_is_the_standard_uuid5(name: str) -> None:
    for namespace in (uuid.NAMESPACE_URL, uuid.uuid5(uuid.NAMESPACE_DNS, "rtk")):
        assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name))
