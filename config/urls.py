from django.contrib import admin
from django.urls import include, path

from apps.core.views import healthz

admin.site.site_header = "roamdesk operations"
admin.site.site_title = "roamdesk"
admin.site.index_title = "Roaming operations"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("ocpi/", include("apps.ocpi.urls")),
]

# Envelopes for OCPI paths wherever Django answers an error by itself; its pages elsewhere.
handler400 = "apps.ocpi.common.handlers.bad_request"
handler403 = "apps.ocpi.common.handlers.permission_denied"
handler404 = "apps.ocpi.common.handlers.page_not_found"
handler500 = "apps.ocpi.common.handlers.server_error"
