"""Wire fields every OCPI version shares."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.ocpi.common.netguard import MAX_URL_LENGTH, url_problem


class PartnerUrlField(serializers.CharField):
    """A URL the partner wants us to call later (a ``response_url``): refused when received,
    not only when called, by the one partner-URL rule (:func:`~apps.ocpi.common.netguard.
    partner_url_check`: length, scheme, a host, no user info, a host we may call). The message
    never says what the host resolves to."""

    default_error_messages = {"not_a_string": "must be a string"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_URL_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        value = str(super().to_internal_value(data))
        problem = url_problem(value, max_length=self.max_length or MAX_URL_LENGTH)
        if problem:
            raise serializers.ValidationError(problem)
        return value
