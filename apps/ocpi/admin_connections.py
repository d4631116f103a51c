"""Onboarding and running OCPI connections from the ops console.

The partners app's connection admin knows nothing of OCPI (domain apps never import
``apps.ocpi``); this module replaces it with a subclass that adds what needs the protocol layer:

- inviting a partner (a pending connection and a token A to hand over) and registering with a
  partner (the credentials handshake), each a form page with its result page;
- rotating credentials, unregistering, suspending and resuming, as list actions and as buttons
  on the change page;
- the adapter profile chosen among the registered ones, and a health panel fed by the exchange
  log.

Tokens we issue are shown once, in the body of the answer to the POST that created them: never
in a message (messages may travel in a cookie), a URL or a redirect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.timesince import timesince

from apps.core.admin import (
    EMPTY,
    admin_change_link,
    admin_changelist_link,
    annotated_column,
    format_duration,
)
from apps.core.errors import DomainError
from apps.core.services import Actor
from apps.ocpi.adapters.registry import (
    UnknownAdapter,
    adapter_problem,
    profile_choices,
    profiles,
)
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.models import DeliveryStatus, ExchangeLogEntry, OutboundDelivery, SyncCursor
from apps.ocpi.services.delivery import connection_push_all
from apps.ocpi.services.handshake import (
    HandshakeError,
    connection_invite,
    connection_register,
    connection_rotate,
    connection_unregister,
    our_versions_url,
)
from apps.ocpi.versions import STANDARD_PROFILE
from apps.partners.admin import PartnerConnectionAdmin
from apps.partners.enums import ConnectionStatus
from apps.partners.models import Partner, PartnerConnection
from apps.partners.services import (
    connection_issue_token,
    connection_outbound_set_paused,
    connection_resume,
    connection_suspend,
)

HEALTH_WINDOW = timedelta(hours=24)

# The same rule as ExchangeLogEntry.succeeded, and its exact complement (NULLs included), as
# filters the database can apply.
EXCHANGE_SUCCEEDED = Q(http_status__gte=200, http_status__lt=300) & (
    Q(ocpi_status__isnull=True) | Q(ocpi_status__gte=1000, ocpi_status__lt=2000)
)
EXCHANGE_FAILED = (
    Q(http_status__isnull=True)
    | Q(http_status__lt=200)
    | Q(http_status__gte=300)
    | Q(ocpi_status__lt=1000)
    | Q(ocpi_status__gte=2000)
)

# What the OCPI status codes a handshake can fail with mean, for the operator.
OCPI_STATUS_TEXT = {
    OcpiStatus.INVALID_PARAMETERS: "invalid or missing parameters",
    OcpiStatus.SERVER_ERROR: "generic server error",
    OcpiStatus.CLIENT_API_UNUSABLE: "unable to use the client's API",
    OcpiStatus.UNSUPPORTED_VERSION: "unsupported version",
    OcpiStatus.NO_MATCHING_ENDPOINTS: "no matching endpoints or expected endpoints missing",
}

# Credentials tokens as OCPI defines them (and as apps.ocpi.common.auth accepts them).
token_validator = RegexValidator(
    r"^[\x21-\x7e]{1,64}$",
    message="A credentials token is 1 to 64 printable ASCII characters, without spaces.",
)


def ocpi_status_text(code: int) -> str:
    try:
        text = OCPI_STATUS_TEXT.get(OcpiStatus(code))
    except ValueError:
        text = None
    return f"OCPI status {code}" + (f" ({text})" if text else "")


# -- selectors over the exchange log ---------------------------------------------------------------
def connection_exchange_health(
    *, connection_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Exchanges of the last 24 hours by outcome, and when the last successful one happened.

    One query, served by the (connection, -created_at) index: the counts read the last 24 hours;
    the last success is looked up before that window only when the window has none.
    """
    since = (now or timezone.now()) - HEALTH_WINDOW
    mine = ExchangeLogEntry.objects.filter(connection_id=connection_id)
    earlier_success = (
        mine.filter(EXCHANGE_SUCCEEDED, created_at__lt=since)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return mine.filter(created_at__gte=since).aggregate(
        succeeded=Count("pk", filter=EXCHANGE_SUCCEEDED),
        failed=Count("pk", filter=EXCHANGE_FAILED),
        last_success=Coalesce(
            Max("created_at", filter=EXCHANGE_SUCCEEDED),
            Subquery(earlier_success, output_field=models.DateTimeField()),
        ),
    )


@dataclass(frozen=True)
class Failure:
    """The most recent thing that went wrong with a connection: when, in what, and why."""

    at: datetime
    source: str  # "exchange", "push", "sync", "handshake"
    what: str
    reason: str


def connection_last_failure(*, connection: PartnerConnection) -> Failure | None:
    """The latest failure recorded anywhere for the connection: a failed exchange (exchange
    log), a push still waiting or dead after a failed attempt (outbox), a failed pull (sync
    cursor) or a failed handshake (the connection's own last error). Four indexed look-ups of
    one row each."""
    found: list[Failure] = []
    exchange = (
        ExchangeLogEntry.objects.filter(EXCHANGE_FAILED, connection_id=connection.pk)
        .order_by("-created_at", "-id")
        .first()
    )
    if exchange is not None:
        found.append(
            Failure(
                at=exchange.created_at,
                source="exchange",
                what=f"{exchange.get_direction_display().split(' (')[0].lower()} "
                f"{exchange.method} {exchange.module or exchange.url}",
                reason=f"{exchange.outcome}: {exchange.error}"
                if exchange.error
                else exchange.outcome,
            )
        )
    delivery = (
        OutboundDelivery.objects.filter(
            connection_id=connection.pk,
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.DEAD),
            attempts__gt=0,
            last_attempt_at__isnull=False,
        )
        .exclude(last_error="")
        .order_by("-last_attempt_at", "-id")
        .first()
    )
    if delivery is not None and delivery.last_attempt_at is not None:
        state = "dead" if delivery.status == DeliveryStatus.DEAD else "will be retried"
        found.append(
            Failure(
                at=delivery.last_attempt_at,
                source="push",
                what=f"push of {delivery.kind} {delivery.object_label or delivery.object_id} "
                f"({delivery.module}, attempt {delivery.attempts}, {state})",
                reason=delivery.last_error,
            )
        )
    cursor = (
        SyncCursor.objects.filter(connection_id=connection.pk, last_error_at__isnull=False)
        .exclude(last_error="")
        .order_by("-last_error_at", "-id")
        .first()
    )
    if cursor is not None and cursor.last_error_at is not None:
        found.append(
            Failure(
                at=cursor.last_error_at,
                source="sync",
                what=f"pull of {cursor.module} ({cursor.consecutive_failures} failed run"
                f"{'s' if cursor.consecutive_failures != 1 else ''} in a row)",
                reason=cursor.last_error,
            )
        )
    if connection.last_error and connection.last_error_at is not None:
        found.append(
            Failure(
                at=connection.last_error_at,
                source="handshake",
                what="credentials handshake",
                reason=connection.last_error,
            )
        )
    return max(found, key=lambda f: f.at, default=None)


def recent_failure_count(*, now: datetime | None = None) -> Coalesce:
    """Annotation: the connection's failed exchanges of the last 24 hours (a correlated
    subquery, computed for the rows shown only)."""
    since = (now or timezone.now()) - HEALTH_WINDOW
    failures = (
        ExchangeLogEntry.objects.filter(
            EXCHANGE_FAILED, connection=OuterRef("pk"), created_at__gte=since
        )
        .order_by()
        .values("connection")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(failures, output_field=models.IntegerField()), 0)


# -- forms -----------------------------------------------------------------------------------------
class AdapterProfileField(forms.ChoiceField):
    """The registered adapter profiles. A stored profile that is no longer registered is shown
    (so the select does not silently fall back to the first choice) but cannot be saved."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=profile_choices, **kwargs)

    def keep_unregistered(self, current: str) -> None:
        if current and current not in profiles():
            self.choices = [*profile_choices(), (current, f"{current} (not registered)")]

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and value not in profiles():
            raise ValidationError(
                "“%(value)s” is not a registered adapter profile: choose one of the list.",
                code="invalid_choice",
                params={"value": value},
            )


class PartnerAndProfileForm(forms.Form):
    """Whom we connect with (an existing partner or a new one), the dialect and a label."""

    partner = forms.ModelChoiceField(queryset=Partner.objects.none(), required=False)
    new_partner = forms.CharField(
        label="Or a new partner",
        max_length=Partner._meta.get_field("name").max_length,
        required=False,
        help_text="Creates the partner with this name.",
    )
    profile = AdapterProfileField(
        label="Adapter profile",
        initial=STANDARD_PROFILE,
        help_text="The partner's dialect. Keep the standard profile unless the partner is "
        "known to deviate.",
    )
    name = forms.CharField(
        label="Connection label",
        max_length=PartnerConnection._meta.get_field("name").max_length,
        required=False,
        help_text="Optional: a dated label is chosen when empty.",
    )

    def __init__(
        self,
        *args: Any,
        partner_field: forms.ModelChoiceField[Partner],
        can_add_partner: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        partner_field.required = False
        partner_field.widget.is_required = False
        partner_field.label = "Existing partner"
        self.fields["partner"] = partner_field
        if not can_add_partner:
            del self.fields["new_partner"]

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        partner: Partner | None = data.get("partner")
        new_partner = (data.get("new_partner") or "").strip()
        if partner is not None and new_partner:
            raise ValidationError("Choose an existing partner or name a new one, not both.")
        if partner is None and not new_partner:
            if "partner" not in self.errors and "new_partner" not in self.errors:
                raise ValidationError("Choose an existing partner or name a new one.")
            return data
        if new_partner and Partner.objects.filter(name__iexact=new_partner).exists():
            self.add_error("new_partner", "A partner of this name exists: choose it in the list.")
        name = data.get("name")
        if partner is not None and name and partner.connections.filter(name=name).exists():
            self.add_error("name", "This partner already has a connection with this label.")
        data["new_partner"] = new_partner
        return data


class InviteForm(PartnerAndProfileForm):
    pass


class RegisterForm(PartnerAndProfileForm):
    versions_url = forms.URLField(
        label="Partner's versions URL",
        max_length=PartnerConnection._meta.get_field("versions_url").max_length,
        assume_scheme="https",
        help_text="The URL of the partner's OCPI versions endpoint, as the partner gave it.",
    )
    token_a = forms.CharField(
        label="Token A from the partner",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        validators=[token_validator],
        help_text="The registration token the partner issued for us. It is used for this "
        "handshake only and never stored.",
    )

    field_order = ("partner", "new_partner", "versions_url", "token_a", "profile", "name")


# -- the admin -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    """An operation on existing connections: a list action and a change page button.

    ``confirmation`` says what the operation will do to the partner, on the page that asks
    before it runs; an operation without one runs at once (it is harmless and reversible).
    """

    slug: str
    label: str
    done: str  # "<connection>: <done>." on success
    run: Callable[..., object]
    available_in: frozenset[str]
    confirmation: str = ""
    applies: Callable[[PartnerConnection], bool] = lambda connection: True

    @property
    def confirm(self) -> bool:
        return bool(self.confirmation)


OPERATIONS: dict[str, Operation] = {
    op.slug: op
    for op in (
        Operation(
            slug="rotate",
            label="Rotate credentials",
            done="credentials rotated (new tokens exchanged with the partner)",
            run=connection_rotate,
            available_in=frozenset({ConnectionStatus.CONNECTED}),
            confirmation="We fetch each partner's versions and endpoints again and send it a new "
            "token (a PUT on its credentials endpoint); it answers with a new token for us. Our "
            "current token keeps working until the partner has confirmed. If the partner refuses, "
            "nothing changes and the error is shown.",
        ),
        Operation(
            slug="suspend",
            label="Suspend",
            done="suspended (its calls are refused until resumed)",
            run=connection_suspend,
            available_in=frozenset({ConnectionStatus.CONNECTED}),
            confirmation="Each partner's calls to us are refused (401) until the connection is "
            "resumed, and we stop pushing to and pulling from it: changes for it wait in the "
            "outbox. Tokens, version and endpoints are kept, so resuming needs no new handshake.",
        ),
        Operation(
            slug="resume",
            label="Resume",
            done="resumed",
            run=connection_resume,
            available_in=frozenset({ConnectionStatus.SUSPENDED}),
        ),
        Operation(
            slug="unregister",
            label="Unregister",
            done="unregistered (tokens forgotten on our side)",
            run=connection_unregister,
            available_in=frozenset(
                {ConnectionStatus.PENDING, ConnectionStatus.CONNECTED, ConnectionStatus.SUSPENDED}
            ),
            confirmation="Each partner is told (a DELETE on its credentials endpoint) when we "
            "hold a token for it; then both tokens stop working. A pending invitation's "
            "registration token stops working. Coming back needs a new registration.",
        ),
        Operation(
            slug="pause-outbound",
            label="Pause pushes",
            done="pushes paused (changes wait in the outbox)",
            run=partial(connection_outbound_set_paused, paused=True),
            available_in=frozenset({ConnectionStatus.CONNECTED, ConnectionStatus.SUSPENDED}),
            applies=lambda connection: not connection.outbound_paused,
        ),
        Operation(
            slug="resume-outbound",
            label="Resume pushes",
            done="pushes resumed",
            run=partial(connection_outbound_set_paused, paused=False),
            available_in=frozenset({ConnectionStatus.CONNECTED, ConnectionStatus.SUSPENDED}),
            applies=lambda connection: connection.outbound_paused,
        ),
        Operation(
            slug="push-all",
            label="Push everything (initial load)",
            done="everything we publish to it is queued in the outbox",
            run=connection_push_all,
            available_in=frozenset({ConnectionStatus.CONNECTED}),
            confirmation="Everything we publish to each partner (the objects of every module its "
            "roles call for, including what it already has) is queued in the outbox and sent in "
            "the background; it can be thousands of calls. While pushes are paused the load waits "
            "in the outbox. Nothing is removed or unregistered.",
        ),
    )
}


admin.site.unregister(PartnerConnection)


@admin.register(PartnerConnection)
class OcpiConnectionAdmin(PartnerConnectionAdmin):
    change_list_template = "admin/ocpi/connection_change_list.html"
    change_form_template = "admin/ocpi/connection_change_form.html"

    # Registration tokens are shown on a page, never in a message (messages may live in a
    # cookie). The base class's attributes are extended in the get_* methods below.
    actions = (
        "hand_out_registration_token",
        "rotate_credentials",
        "suspend_connections",
        "resume_connections",
        "unregister_connections",
        "pause_outbound",
        "resume_outbound",
    )
    extra_readonly_fields = (
        # Status changes go through the actions (audited, and told to the partner).
        "status",
        "issued_token_expires_at",
        "represented_parties_list",
        "health",
        "last_failure",
    )

    failures_24h = annotated_column("failures_24h", description="failures 24 h")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PartnerConnection]:
        return super().get_queryset(request).annotate(failures_24h=recent_failure_count())

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        columns: list[Any] = []
        for column in super().get_list_display(request):
            columns.append(column)
            if column == "status":
                columns.append("failures_24h")
        return columns

    def get_readonly_fields(
        self, request: HttpRequest, obj: PartnerConnection | None = None
    ) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + [name for name in self.extra_readonly_fields if name not in readonly]

    def get_fieldsets(
        self, request: HttpRequest, obj: PartnerConnection | None = None
    ) -> list[Any]:
        """The represented parties as a read-only list, and the health panel."""
        fieldsets = []
        has_health = False
        for title, options in super().get_fieldsets(request, obj):
            fields = [
                "represented_parties_list" if field == "represented_parties" else field
                for field in options["fields"]
            ]
            if title == "Health":
                # The handshake's own last error is one source of the last failure among four.
                fields = [
                    "health",
                    *(f for f in fields if f not in ("last_error", "last_error_at")),
                    "last_failure",
                ]
                has_health = True
            if "issued_token_created_at" in fields and "issued_token_expires_at" not in fields:
                at = fields.index("issued_token_created_at") + 1
                fields[at:at] = ["issued_token_expires_at"]
            fieldsets.append((title, {**options, "fields": fields}))
        if not has_health:
            fieldsets.append(("Health", {"fields": ["health", "last_failure"]}))
        return fieldsets

    # -- form --------------------------------------------------------------------------------------
    def formfield_for_dbfield(
        self, db_field: models.Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if db_field.name == "adapter_profile":
            return AdapterProfileField(
                label=capfirst(db_field.verbose_name),
                help_text=db_field.help_text,
                initial=db_field.default,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_form(
        self,
        request: HttpRequest,
        obj: PartnerConnection | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        field = form.base_fields.get("adapter_profile")
        if obj is not None and isinstance(field, AdapterProfileField):
            field.keep_unregistered(obj.adapter_profile)
        return form

    # -- read-only displays ------------------------------------------------------------------------
    @admin.display(description="represented parties")
    def represented_parties_list(self, obj: PartnerConnection) -> str:
        if obj.pk is None:
            return EMPTY
        parties = obj.represented_parties.order_by("country_code", "party_id")
        rows = format_html_join(
            "",
            "<li>{} — {}</li>",
            (
                (admin_change_link(party), ", ".join(party.roles or []) or "no role")
                for party in parties
            ),
        )
        if not rows:
            return format_html(
                '{}<div class="help">{}</div>', EMPTY, "Filled in by the credentials handshake."
            )
        return format_html('<ul class="roamdesk-parties">{}</ul>', rows)

    @admin.display(description="exchanges")
    def health(self, obj: PartnerConnection) -> str:
        if obj.pk is None:
            return EMPTY
        figures = connection_exchange_health(connection_id=obj.pk)
        last = figures["last_success"]
        problem = adapter_problem(obj.adapter_profile, obj.version)
        return format_html(
            "{}"
            '<table class="roamdesk-health"><tbody>'
            "<tr><th>Succeeded, last 24 h</th><td>{}</td></tr>"
            '<tr><th>Failed, last 24 h</th><td class="{}">{}</td></tr>'
            "<tr><th>Last successful exchange</th><td>{}</td></tr>"
            "</tbody></table>"
            '<div class="help">{}</div>',
            format_html('<p class="roamdesk-failed">Not working: {}.</p>', problem)
            if problem
            else "",
            figures["succeeded"],
            "roamdesk-failed" if figures["failed"] else "",
            figures["failed"],
            f"{date_format(timezone.localtime(last), 'DATETIME_FORMAT')} ({timesince(last)} ago)"
            if last
            else "never",
            admin_changelist_link(
                ExchangeLogEntry, "See the exchange log", connection__id__exact=obj.pk
            ),
        )

    @admin.display(description="last failure")
    def last_failure(self, obj: PartnerConnection) -> str:
        if obj.pk is None:
            return EMPTY
        failure = connection_last_failure(connection=obj)
        if failure is None:
            return "none recorded"
        return format_html(
            "{} ({} ago) — {}: {}",
            date_format(timezone.localtime(failure.at), "DATETIME_FORMAT"),
            timesince(failure.at),
            failure.what,
            failure.reason[:300] + ("…" if len(failure.reason) > 300 else ""),
        )

    # -- URLs and pages ----------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        own = [
            path("invite/", wrap(self.invite_view), name=f"{prefix}_invite"),
            path("register/", wrap(self.register_view), name=f"{prefix}_register"),
            path("health/", wrap(self.health_view), name=f"{prefix}_health"),
        ]
        for slug in OPERATIONS:
            own.append(
                path(
                    f"<path:object_id>/{slug}/",
                    wrap(self._operation_view(slug)),
                    name=f"{prefix}_{slug}",
                )
            )
        # Before the inherited patterns: "<path:object_id>/" would swallow "invite/".
        return own + super().get_urls()

    def health_view(self, request: HttpRequest) -> TemplateResponse:
        """Per connection and module: calls, failures, last success, backlog, sync lag, and the
        CDR and command KPIs, with a 14-day chart per module."""
        from django.core.exceptions import PermissionDenied
        from django.utils.safestring import mark_safe

        from apps.ocpi.services.health import health_overview, sparkline

        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = min(max(int(request.GET.get("days", 14)), 1), 90)
        except ValueError:
            days = 14
        overview = health_overview(days=days)
        for item in overview:
            for health in item.modules:
                health.chart = mark_safe(sparkline(health.daily))  # type: ignore[attr-defined]  # noqa: S308 (numbers only)
                health.sync_lag_text = format_duration(health.sync_lag)  # type: ignore[attr-defined]
        from apps.core.housekeeping import job_failures_summary

        return self._page(
            request,
            "admin/ocpi/health.html",
            "Partner health",
            overview=overview,
            days=days,
            job_failures=job_failures_summary(days=days),
            job_failures_url=reverse("admin:core_jobfailure_changelist"),
        )

    def _url(self, name: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    def can_onboard(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def _can_add_partner(self, request: HttpRequest) -> bool:
        try:
            partner_admin = self.admin_site.get_model_admin(Partner)
        except NotRegistered:
            return False
        return partner_admin.has_add_permission(request)

    def _page(
        self, request: HttpRequest, template: str, title: str, **context: Any
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "changelist_url": self._url("changelist"),
                **context,
            },
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "health_url": self._url("health")}
        if self.can_onboard(request):
            context["onboarding_urls"] = {
                "invite": self._url("invite"),
                "register": self._url("register"),
            }
        return super().changelist_view(request, extra_context=context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: PartnerConnection | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None and self.has_change_permission(request, obj):
            context["connection_operations"] = [
                {"label": op.label, "url": self._url(op.slug, obj.pk), "confirm": op.confirm}
                for op in OPERATIONS.values()
                if obj.status in op.available_in and op.applies(obj)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _form_kwargs(self, request: HttpRequest) -> dict[str, Any]:
        field = self.formfield_for_foreignkey(PartnerConnection._meta.get_field("partner"), request)
        assert field is not None
        return {"partner_field": field, "can_add_partner": self._can_add_partner(request)}

    @staticmethod
    def _partner_for(form: PartnerAndProfileForm) -> tuple[Partner, bool]:
        """The chosen partner, or the new one (created here); and whether it is new."""
        partner: Partner | None = form.cleaned_data["partner"]
        if partner is not None:
            return partner, False
        return Partner.objects.create(name=form.cleaned_data["new_partner"]), True

    def _log_new_partner(self, request: HttpRequest, partner: Partner, created: bool) -> None:
        if created:
            self.log_addition(request, partner, "Added while onboarding a connection.")

    def invite_view(self, request: HttpRequest) -> HttpResponse:
        """Create a pending connection and a token A to hand to the partner."""
        if not self.can_onboard(request):
            raise PermissionDenied
        form = InviteForm(request.POST or None, **self._form_kwargs(request))
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    partner, created = self._partner_for(form)
                    self._log_new_partner(request, partner, created)
                    connection, token_a = connection_invite(
                        partner=partner,
                        name=form.cleaned_data["name"],
                        profile=form.cleaned_data["profile"],
                        actor=request.user,
                    )
                    self.log_addition(request, connection, "Invited the partner (token A).")
            except IntegrityError:  # a partner or label created meanwhile by someone else
                form.add_error(None, "A partner or connection of this name was just created.")
            else:
                return self._page(
                    request,
                    "admin/ocpi/token_handover.html",
                    "Invitation created",
                    versions_url=our_versions_url(),
                    handovers=[{"connection": connection, "token": token_a}],
                )
        return self._page(
            request,
            "admin/ocpi/onboarding_form.html",
            "Invite a partner",
            form=form,
            intro="Creates a pending connection and a registration token (token A). Give the "
            "partner our versions URL and the token: it then registers with us.",
            submit_label="Create the invitation",
        )

    def register_view(self, request: HttpRequest) -> HttpResponse:
        """Run the credentials handshake with a partner that gave us its versions URL and a
        token A. Both outcomes answer 200 with the steps done."""
        if not self.can_onboard(request):
            raise PermissionDenied
        form = RegisterForm(request.POST or None, **self._form_kwargs(request))
        context: dict[str, Any] = {}
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            started = timezone.now()
            try:
                # Committed at once: no transaction may stay open while the partner calls back.
                partner, created = self._partner_for(form)
            except IntegrityError:
                form.add_error(None, "A partner of this name was just created.")
            else:
                steps: list[str] = []
                try:
                    connection = connection_register(
                        partner=partner,
                        versions_url=data["versions_url"],
                        token_a=data["token_a"],
                        name=data["name"],
                        profile=data["profile"],
                        actor=request.user,
                        steps=steps,
                    )
                except HandshakeError as exc:
                    context = {
                        "error": exc.message,
                        "error_status": ocpi_status_text(exc.ocpi_status),
                        "steps": steps,
                    }
                except UnknownAdapter as exc:
                    context = {"error": str(exc), "steps": steps}
                else:
                    self._log_new_partner(request, partner, created)
                    self.log_addition(request, connection, "Registered with the partner.")
                    return self._page(
                        request,
                        "admin/ocpi/register_result.html",
                        "Registered with the partner",
                        connection=connection,
                        connection_url=self._url("change", connection.pk),
                        parties=list(connection.represented_parties.all()),
                        steps=steps,
                    )
                # The attempt's connection, if it got that far, is kept with its error.
                failed = (
                    partner.connections.filter(created_at__gte=started)
                    .order_by("-created_at")
                    .first()
                )
                if failed is not None:
                    context["failed_connection"] = failed
                    self._log_new_partner(request, partner, created)
                elif created and not partner.parties.exists():
                    partner.delete()  # nothing came of it: leave no empty partner behind
        return self._page(
            request,
            "admin/ocpi/onboarding_form.html",
            "Register with a partner",
            form=form,
            intro="Registers with a partner that gave us its versions URL and a registration "
            "token (token A): we fetch its versions, send our credentials and store its own.",
            submit_label="Register",
            **context,
        )

    def _operation_view(self, slug: str) -> Callable[[HttpRequest, str], HttpResponse]:
        operation = OPERATIONS[slug]

        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            connection = self.get_object(request, unquote(object_id))
            if connection is None:
                self.message_user(
                    request, f"No connection with id {object_id!r}.", messages.WARNING
                )
                return HttpResponseRedirect(self._url("changelist"))
            if not self.has_change_permission(request, connection):
                raise PermissionDenied
            change_url = self._url("change", connection.pk)
            if request.method == "GET" and operation.confirm:
                return self._confirmation(request, operation, [connection], cancel_url=change_url)
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            self._apply(request, operation, [connection])
            return HttpResponseRedirect(change_url)

        return view

    def _confirmation(
        self,
        request: HttpRequest,
        operation: Operation,
        connections: Iterable[PartnerConnection],
        *,
        cancel_url: str,
        action: str = "",
    ) -> TemplateResponse:
        return self._page(
            request,
            "admin/ocpi/operation_confirmation.html",
            f"{operation.label}: are you sure?",
            operation=operation,
            connections=list(connections),
            action=action,
            action_checkbox_name=ACTION_CHECKBOX_NAME,
            cancel_url=cancel_url,
        )

    def _apply(
        self, request: HttpRequest, operation: Operation, connections: Iterable[PartnerConnection]
    ) -> None:
        actor: Actor = request.user
        for connection in connections:
            try:
                operation.run(connection=connection, actor=actor)
            except HandshakeError as exc:
                self.message_user(
                    request,
                    f"{connection}: {exc.message} — {ocpi_status_text(exc.ocpi_status)}",
                    messages.ERROR,
                )
            except DomainError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
            except UnknownAdapter as exc:
                self.message_user(request, f"{connection}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{connection}: {operation.done}.", messages.SUCCESS)

    # -- actions -----------------------------------------------------------------------------------
    def _run_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[PartnerConnection],
        slug: str,
        action: str,
    ) -> TemplateResponse | None:
        """A list action: an operation with a confirmation asks first (its own text), then
        runs on the selection posted back with it."""
        operation = OPERATIONS[slug]
        if operation.confirm and request.POST.get("post") != "yes":
            return self._confirmation(
                request, operation, queryset, cancel_url=self._url("changelist"), action=action
            )
        self._apply(request, operation, queryset)
        return None

    @admin.action(description="Rotate credentials", permissions=["change"])
    def rotate_credentials(
        self, request: HttpRequest, queryset: QuerySet[PartnerConnection]
    ) -> TemplateResponse | None:
        return self._run_action(request, queryset, "rotate", "rotate_credentials")

    @admin.action(description="Suspend", permissions=["change"])
    def suspend_connections(
        self, request: HttpRequest, queryset: QuerySet[PartnerConnection]
    ) -> TemplateResponse | None:
        return self._run_action(request, queryset, "suspend", "suspend_connections")

    @admin.action(description="Resume", permissions=["change"])
    def resume_connections(
        self, request: HttpRequest, queryset: QuerySet[PartnerConnection]
    ) -> None:
        self._apply(request, OPERATIONS["resume"], queryset)

    @admin.action(description="Unregister", permissions=["change"])
    def unregister_connections(
        self, request: HttpRequest, queryset: QuerySet[PartnerConnection]
    ) -> TemplateResponse | None:
        return self._run_action(request, queryset, "unregister", "unregister_connections")

    @admin.action(description="Pause pushes to these partners", permissions=["change"])
    def pause_outbound(self, request: HttpRequest, queryset: QuerySet[PartnerConnection]) -> None:
        self._apply(request, OPERATIONS["pause-outbound"], queryset)

    @admin.action(description="Resume pushes to these partners", permissions=["change"])
    def resume_outbound(self, request: HttpRequest, queryset: QuerySet[PartnerConnection]) -> None:
        self._apply(request, OPERATIONS["resume-outbound"], queryset)

    @admin.action(description="Issue registration token (token A)", permissions=["change"])
    def hand_out_registration_token(
        self, request: HttpRequest, queryset: QuerySet[PartnerConnection]
    ) -> TemplateResponse | None:
        """The partners app's action, with the token shown on a page rather than in a message
        (messages may travel in a cookie), and expiring like an invitation's."""
        handovers = []
        for connection in queryset:
            try:
                token = connection_issue_token(
                    connection=connection,
                    registration=True,
                    valid_for=timedelta(days=settings.OCPI_REGISTRATION_TOKEN_DAYS),
                    actor=request.user,
                )
            except DomainError as exc:
                self.message_user(request, f"{connection}: {exc.message}", messages.ERROR)
                continue
            handovers.append({"connection": connection, "token": token})
        if not handovers:
            return None
        return self._page(
            request,
            "admin/ocpi/token_handover.html",
            "Registration tokens issued",
            versions_url=our_versions_url(),
            handovers=handovers,
            replaced=True,
        )
