from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from apps.core.admin import (
    NoAddAdminMixin,
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    annotated_column,
    money_column,
    related_count,
)
from apps.core.errors import DomainError
from apps.locations.models import Location
from apps.partners.admin import ConnectionListFilter, PartyOwnerFilter
from apps.tariffs.enums import TariffType
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.pricing import (
    Dimension,
    PeriodSketch,
    PricingResult,
    price_session,
    rounded_totals,
    sketch_session,
    text,
)
from apps.tariffs.pricing.render import COST_FIELDS
from apps.tariffs.services import TariffContent, tariff_publish_version, tariff_version_spec

PREVIEW_PERIODS_HELP = (
    "One period per line: its start in minutes after charging began, then any of "
    "energy=kWh, parking=minutes (of the period, after its charging time), power=kW, "
    "current=A (both set MIN_ and MAX_), min_power=, max_power=, min_current=, max_current=. "
    "The first period starts at 0; each lasts until the next one (the last until the end). "
    "Example: '0 energy=20 current=16' then '165 parking=42'."
)
_PERIOD_KEYS = {
    "energy": ("energy_kwh",),
    "parking": ("parking",),
    "power": ("min_power", "max_power"),
    "current": ("min_current", "max_current"),
    "min_power": ("min_power",),
    "max_power": ("max_power",),
    "min_current": ("min_current",),
    "max_current": ("max_current",),
}
_TOKEN = re.compile(r"([a-z_]+)=(\S+)")


def _minutes(value: Decimal) -> timedelta:
    return timedelta(microseconds=int(value * 60_000_000))


def _decimal(text: str, where: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{where}: {text!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ValidationError(f"{where}: {text!r} must be a number ≥ 0")
    return number


def parse_preview_periods(text: str) -> list[PeriodSketch]:
    """The preview form's period lines as sketches (see ``PREVIEW_PERIODS_HELP``)."""
    sketches = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        head, _, rest = line.partition(" ")
        where = f"line {number}"
        values: dict[str, Any] = {"offset": _minutes(_decimal(head, where))}
        for token in rest.split():
            match = _TOKEN.fullmatch(token)
            if not match or match[1] not in _PERIOD_KEYS:
                raise ValidationError(f"{where}: {token!r} is not one of {', '.join(_PERIOD_KEYS)}")
            amount = _decimal(match[2], f"{where}, {match[1]}")
            for name in _PERIOD_KEYS[match[1]]:
                values[name] = _minutes(amount) if name == "parking" else amount
        sketches.append(PeriodSketch(**values))
    if not sketches:
        raise ValidationError("give at least one period")
    return sketches


class PricePreviewForm(forms.Form):
    """A hypothetical session for the price preview (nothing is stored)."""

    version = forms.ModelChoiceField(queryset=TariffVersion.objects.none(), empty_label=None)
    time_zone = forms.CharField(
        max_length=64, help_text="IANA time zone of the location, e.g. Europe/Amsterdam"
    )
    start = forms.DateTimeField(
        label="Charging starts (local time)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    duration = forms.DecimalField(
        label="Duration (minutes)", min_value=Decimal(0), help_text="From plug-in to unplugging"
    )
    reservation = forms.DecimalField(
        label="Reservation (minutes)",
        min_value=Decimal(0),
        required=False,
        help_text="Time the EVSE was reserved before charging started (optional)",
    )
    reservation_expired = forms.BooleanField(
        required=False, help_text="The reservation expired: no charging (periods are ignored)"
    )
    periods = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}), help_text=PREVIEW_PERIODS_HELP
    )

    def __init__(self, *args: Any, tariff: Tariff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["version"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = tariff.versions.select_related("tariff").order_by("-number")

    def clean_time_zone(self) -> str:
        name: str = self.cleaned_data["time_zone"].strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{name!r} is not an IANA time zone name") from None
        return name

    def clean_start(self) -> datetime:
        # The admin parses in the site's zone; the preview means the location's wall clock.
        value: datetime = self.cleaned_data["start"]
        return value.replace(tzinfo=None)

    def clean_periods(self) -> list[PeriodSketch]:
        return parse_preview_periods(self.cleaned_data["periods"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reservation_expired") and not data.get("reservation"):
            self.add_error("reservation", "An expired reservation needs its duration.")
        return data

    def price(self) -> PricingResult:
        """Price the session under the chosen version; raises ``DomainError``."""
        data = self.cleaned_data
        zone = data["time_zone"]
        session = sketch_session(
            start=data["start"].replace(tzinfo=ZoneInfo(zone)),
            duration=_minutes(data["duration"]),
            periods=data["periods"],
            time_zone=zone,
            reservation=_minutes(data.get("reservation") or Decimal(0)),
            reservation_expired=bool(data.get("reservation_expired")),
        )
        return price_session(tariff_version_spec(data["version"]), session)


class TariffVersionForm(forms.Form):
    """New content for one of our tariffs; every field of a TariffVersion."""

    currency = forms.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217, e.g. EUR")
    type = forms.ChoiceField(
        choices=[("", "— (all sessions)"), *TariffType.choices], required=False
    )
    elements = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "cols": 90, "class": "vLargeTextField"}),
        help_text="JSON list of tariff elements: price_components (type, price, vat, "
        "step_size) and restrictions. Numbers are kept exactly.",
    )
    min_price_excl_vat = forms.DecimalField(required=False, decimal_places=10)
    min_price_incl_vat = forms.DecimalField(required=False, decimal_places=10)
    max_price_excl_vat = forms.DecimalField(required=False, decimal_places=10)
    max_price_incl_vat = forms.DecimalField(required=False, decimal_places=10)
    start_date_time = forms.DateTimeField(required=False, help_text="UTC")
    end_date_time = forms.DateTimeField(required=False, help_text="UTC")
    alt_text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 90}),
        help_text='JSON list of display texts, e.g. [{"language": "en", "text": "..."}]',
    )  # fmt: skip
    alt_url = forms.URLField(required=False, max_length=255, assume_scheme="https")

    @staticmethod
    def _json(text: str, field: str) -> Any:
        try:
            return json.loads(text or "[]", parse_float=Decimal)
        except ValueError as exc:
            raise forms.ValidationError(f"{field}: not valid JSON ({exc})") from None

    def clean_elements(self) -> Any:
        return self._json(self.cleaned_data["elements"], "elements")

    def clean_alt_text(self) -> Any:
        return self._json(self.cleaned_data["alt_text"], "alt_text")

    def content(self) -> TariffContent:
        data = self.cleaned_data
        return TariffContent(
            currency=data["currency"],
            type=data["type"] or "",
            elements=data["elements"],
            last_updated=timezone.now(),
            alt_text=data["alt_text"] or [],
            alt_url=data["alt_url"] or "",
            min_price_excl_vat=data["min_price_excl_vat"],
            min_price_incl_vat=data["min_price_incl_vat"],
            max_price_excl_vat=data["max_price_excl_vat"],
            max_price_incl_vat=data["max_price_incl_vat"],
            start_date_time=data["start_date_time"],
            end_date_time=data["end_date_time"],
            energy_mix=None,
        )

    @classmethod
    def initial_from(cls, version: TariffVersion | None, tariff: Tariff) -> dict[str, Any]:
        if version is None:
            return {"currency": tariff.currency, "elements": "[]", "alt_text": "[]"}
        return {
            "currency": version.currency,
            "type": version.type,
            "elements": json.dumps(version.elements, indent=2, cls=DjangoJSONEncoder),
            "min_price_excl_vat": version.min_price_excl_vat,
            "min_price_incl_vat": version.min_price_incl_vat,
            "max_price_excl_vat": version.max_price_excl_vat,
            "max_price_incl_vat": version.max_price_incl_vat,
            "start_date_time": version.start_date_time,
            "end_date_time": version.end_date_time,
            "alt_text": json.dumps(version.alt_text, cls=DjangoJSONEncoder),
            "alt_url": version.alt_url,
        }


class TariffVersionInline(ReadOnlyAdminMixin, OpsTabularInline):
    model = TariffVersion
    fields = ("number", "recorded_at", "origin", "last_updated", "source_connection")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[TariffVersion]:
        return super().get_queryset(request).select_related("tariff", "source_connection__partner")


@admin.register(Tariff)
class TariffAdmin(NoAddAdminMixin, OpsModelAdmin):
    """Only who may see a tariff is edited here. Its content changes through a new version
    (tariff services), which is also how a tariff comes into being."""

    list_display = (
        "tariff_id",
        "party",
        "currency",
        "type",
        "versions",
        "publish_scope",
        "last_updated",
        "deleted_at",
    )
    list_select_related = ("party",)
    list_filter = (
        "currency",
        "type",
        "publish_scope",
        ("deleted_at", admin.EmptyFieldListFilter),
        PartyOwnerFilter,
        "party",
        ("source_connection", ConnectionListFilter),
    )
    search_fields = ("tariff_id", "=party__party_id")
    ordering = ("party", "tariff_id")
    filter_horizontal = ("publish_partners",)
    readonly_fields = (
        "party",
        "tariff_id",
        "currency",
        "type",
        "last_updated",
        "deleted_at",
        "source_connection",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": ("party", "tariff_id", "currency", "type", "last_updated")}),
        ("Publication", {"fields": ("publish_scope", "publish_partners")}),
        ("Record", {"fields": ("deleted_at", "source_connection", "created_at")}),
    )
    inlines = (TariffVersionInline,)
    change_form_template = "admin/tariffs/tariff_change_form.html"

    versions = annotated_column("version_count", description="versions")

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_preview"
        view = self.admin_site.admin_view(self.preview_view)
        publish = self.admin_site.admin_view(self.new_version_view)
        return [
            path("<path:object_id>/preview/", view, name=name),
            path(
                "<path:object_id>/new-version/",
                publish,
                name=f"{self.opts.app_label}_{self.opts.model_name}_new_version",
            ),
            *super().get_urls(),
        ]

    def new_version_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Publish new content for one of our tariffs: it becomes a new immutable version."""
        tariff = self.get_object(request, unquote(object_id))
        if tariff is None:
            raise Http404("no such tariff")
        if not self.has_change_permission(request, tariff) or not tariff.party.is_own:
            raise PermissionDenied
        latest = tariff.latest_version()
        form = TariffVersionForm(
            request.POST if request.method == "POST" else None,
            initial=TariffVersionForm.initial_from(latest, tariff),
        )
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[tariff.pk],
            current_app=self.admin_site.name,
        )
        if form.is_bound and form.is_valid():
            try:
                version, created = tariff_publish_version(
                    tariff=tariff, content=form.content(), actor=request.user
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                if created:
                    self.message_user(
                        request, f"Version {version.number} published.", messages.SUCCESS
                    )
                else:
                    self.message_user(request, "Nothing changed: no new version.", messages.WARNING)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": tariff,
            "title": f"New version of {tariff}",
            "form": form,
            "latest": latest,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/tariffs/new_version.html", context)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Price a hypothetical session under one of the tariff's versions (stores nothing)."""
        tariff = self.get_object(request, unquote(object_id))
        if tariff is None:
            raise Http404("no such tariff")
        if not self.has_view_permission(request, tariff):
            raise PermissionDenied
        versions = tariff.versions.order_by("-number")
        wanted = request.GET.get("version", "")
        chosen = (wanted.isdigit() and versions.filter(pk=wanted).first()) or versions.first()
        form = PricePreviewForm(
            request.POST if request.method == "POST" else None,
            tariff=tariff,
            initial={
                "version": chosen,
                "time_zone": _zone_of(tariff),
                "duration": 60,
                "periods": "0 energy=10",
            },
        )
        result = error = None
        if form.is_bound and form.is_valid():
            try:
                result = form.price()
            except DomainError as exc:
                error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": tariff,
            "title": f"Price preview: {tariff}",
            "form": form,
            "result": result,
            "error": error,
            "totals": _totals_rows(result) if result else [],
            "lines": _line_rows(result) if result else [],
            "quantities": _quantities(result) if result else "",
            "periods": [
                {
                    "index": report.index,
                    "when": text.moment(report.local_start),
                    "energy_before": text.number(report.energy_before),
                    "elapsed": text.duration(report.elapsed_seconds),
                    "explanations": report.explanations,
                }
                for report in (result.periods if result else ())
            ],
            "uncapped": (
                {
                    "excl_vat": text.number(result.uncapped_cost.excl_vat),
                    "incl_vat": text.number(result.uncapped_cost.incl_vat),
                }
                if result and result.uncapped_cost != result.total_cost
                else None
            ),
            "change_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[tariff.pk],
                current_app=self.admin_site.name,
            ),
        }
        return TemplateResponse(request, "admin/tariffs/price_preview.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tariff]:
        return (
            super()
            .get_queryset(request)
            .annotate(version_count=related_count(TariffVersion, "tariff"))
        )


def _zone_of(tariff: Tariff) -> str:
    """A sensible default zone: that of one of the owner's locations."""
    zone = Location.objects.filter(party_id=tariff.party_id).values_list("time_zone", flat=True)
    return zone.order_by("pk").first() or "UTC"


def _totals_rows(result: PricingResult) -> list[dict[str, Any]]:
    """The cost totals, rounded for display and at full precision (trailing zeros dropped)."""
    rounded = rounded_totals(result)
    rows = []
    for name in COST_FIELDS:
        exact = getattr(result, name)
        rows.append(
            {
                "name": "total" if name == "total_cost" else name[6:-5].replace("_", " "),
                "excl_vat": rounded[name].excl_vat,
                "incl_vat": rounded[name].incl_vat,
                "exact_excl_vat": text.number(exact.excl_vat),
                "exact_incl_vat": text.number(exact.incl_vat),
            }
        )
    return rows


def _line_rows(result: PricingResult) -> list[dict[str, Any]]:
    """The priced lines with their volumes in words (hours as H:MM:SS) and exact amounts."""
    rows = []
    for line in result.lines:
        flat = line.dimension is Dimension.FLAT
        rows.append(
            {
                "line": line,
                "volume": "once" if flat else text.volume(line.dimension, line.volume),
                "billed": "once" if flat else text.volume(line.dimension, line.billed_volume),
                "excl_vat": text.number(line.amount.excl_vat),
                "incl_vat": text.number(line.amount.incl_vat),
            }
        )
    return rows


def _quantities(result: PricingResult) -> str:
    parts = [
        f"energy {text.number(result.total_energy)} kWh",
        f"session time {text.hours(result.total_time)}",
        f"parking {text.hours(result.total_parking_time)}",
    ]
    if result.total_reservation_time:
        parts.append(f"reservation {text.hours(result.total_reservation_time)}")
    return "; ".join(parts)


@admin.register(TariffVersion)
class TariffVersionAdmin(ReadOnlyAdminMixin, OpsModelAdmin):
    change_form_template = "admin/tariffs/tariffversion_change_form.html"
    list_display = (
        "tariff",
        "number",
        "party",
        "type",
        "min_price",
        "max_price",
        "origin",
        "last_updated",
        "recorded_at",
        "source_connection",
    )
    list_select_related = ("tariff", "tariff__party", "source_connection__partner")
    list_filter = (
        "origin",
        "currency",
        "type",
        ("recorded_at", admin.DateFieldListFilter),
        "tariff__party",
        ("source_connection", ConnectionListFilter),
    )
    search_fields = ("=tariff__tariff_id", "=content_hash")
    ordering = ("-recorded_at", "-pk")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "tariff",
                    "number",
                    "origin",
                    "source_connection",
                    "recorded_at",
                    "last_updated",
                    "content_hash",
                )
            },
        ),
        (
            "Content",
            {
                "fields": (
                    ("currency", "type"),
                    ("min_price_excl_vat", "min_price_incl_vat"),
                    ("max_price_excl_vat", "max_price_incl_vat"),
                    ("start_date_time", "end_date_time"),
                    "elements",
                    "alt_text",
                    "alt_url",
                    "energy_mix",
                )
            },
        ),
    )

    min_price = money_column("min_price_excl_vat", description="min. price excl. VAT")
    max_price = money_column("max_price_excl_vat", description="max. price excl. VAT")

    @admin.display(description="party", ordering="tariff__party")
    def party(self, obj: TariffVersion) -> str:
        return str(obj.tariff.party)
