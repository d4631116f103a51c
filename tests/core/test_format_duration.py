"""Spans of time as the ops console shows them: whole seconds at most, two units."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.core.admin import EMPTY, format_duration


@pytest.mark.parametrize(
    ("span", "shown"),
    [
        (timedelta(0), "0 s"),
        (timedelta(seconds=45, microseconds=999_999), "45 s"),
        (timedelta(minutes=3), "3 min"),
        (timedelta(minutes=3, seconds=12, microseconds=5), "3 min 12 s"),
        (timedelta(hours=4, minutes=5, seconds=59), "4 h 05 min"),
        (timedelta(days=2), "2 d"),
        (timedelta(days=2, hours=3, minutes=59), "2 d 3 h"),
        (-timedelta(minutes=2), "-2 min"),
    ],
)
def test_format_duration(span: timedelta, shown: str) -> None:
    assert format_duration(span) == shown


def test_no_span_is_the_empty_marker() -> None:
    assert format_duration(None) == EMPTY
