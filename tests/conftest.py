from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def staff_client(db: None) -> Client:
    user = get_user_model().objects.create_superuser(username="ops", password="x")
    client = Client()
    client.force_login(user)
    return client
