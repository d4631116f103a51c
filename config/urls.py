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
