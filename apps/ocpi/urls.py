"""/ocpi/: the versions endpoint and one URLconf per OCPI version we speak."""

from __future__ import annotations

import re

from django.urls import include, re_path

from apps.ocpi.versions import VersionNumber
from apps.ocpi.views import VersionsView

app_name = "ocpi"

#: Mounted versions; the versions endpoint lists exactly these.
MOUNTED_VERSIONS: dict[VersionNumber, str] = {
    VersionNumber.V2_2_1: "apps.ocpi.v2_2_1.urls",
}

urlpatterns = [
    re_path(r"^versions/?$", VersionsView.as_view(), name="versions"),
    *(
        re_path(f"^{re.escape(number.value)}", include(module))
        for number, module in MOUNTED_VERSIONS.items()
    ),
]
