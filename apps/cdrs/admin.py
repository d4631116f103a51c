from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from apps.cdrs.checking import cdr_check_pricing
from apps.cdrs.enums import CdrOrigin, CdrStatus, ValidationStatus
from apps.cdrs.generation import cdr_validate_and_finalize
from apps.cdrs.models import (
    Cdr,
    CdrChargingDimension,
    CdrChargingPeriod,
    CdrCostLine,
    CdrFinding,
    CdrReview,
    PartnerCdrRules,
    PartnerCdrRulesView,
    unresolved_error_findings,
)
from apps.cdrs.services import (
    cdr_check_signed_data,
    cdr_cost_mismatches,
    cdr_credit_refusal,
    cdr_finalize,
    cdr_issue_credit,
    cdr_review_record,
)
from apps.cdrs.signed_data import (
    MeterReading,
    SignedDataReport,
    SignedValueOutcome,
    signed_data_verify,
)
from apps.charging_sessions.admin import ChargingDimensionInline, ChargingPeriodInline
from apps.core.admin import (
    EMPTY,
    ImmutableObjectAdminMixin,
    LargeTableAdminMixin,
    NoAddAdminMixin,
    OpsModelAdmin,
    OpsTabularInline,
    ReadOnlyAdminMixin,
    RecentValuesListFilter,
    admin_change_link,
    format_exact,
    money_column,
    quantity_column,
)
from apps.core.errors import DomainError
from apps.core.money import format_money
from apps.partners.admin import ConnectionListFilter, PartyOwnerFilter


class CdrCountryFilter(RecentValuesListFilter):
    title = "location country"
    parameter_name = "location_country"
    field_name = "location_country"


class CdrCurrencyFilter(RecentValuesListFilter):
    title = "currency"
    parameter_name = "currency"
    field_name = "currency"


class CdrChargingPeriodInline(ChargingPeriodInline):
    model = CdrChargingPeriod


class CdrChargingDimensionInline(ChargingDimensionInline):
    model = CdrChargingDimension


class CdrCostLineInline(ReadOnlyAdminMixin, OpsTabularInline):
    model = CdrCostLine
    fields = (
        "period",
        "component",
        "dimension",
        "volume",
        "unit_price",
        "vat_rate",
        "amount_excl_vat",
        "amount_incl_vat",
        "tariff_version",
        "element_index",
        "explanation",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[CdrCostLine]:
        return super().get_queryset(request).select_related("period", "tariff_version__tariff")


class CdrFindingInline(ReadOnlyAdminMixin, OpsTabularInline):
    model = CdrFinding
    fields = ("created_at", "source", "severity", "code", "message")
    ordering = ("-created_at", "-id")
    show_change_link = True
    verbose_name_plural = "findings"


class CdrReviewInline(ReadOnlyAdminMixin, OpsTabularInline):
    model = CdrReview
    fields = ("created_at", "reviewer_label", "decision", "note")
    ordering = ("-created_at", "-id")
    verbose_name_plural = "reviews"


class ReviewQueueFilter(admin.SimpleListFilter):
    """The two queues of CDRs a person must look at."""

    title = "review queue"
    parameter_name = "queue"
    HELD = "held"
    REVIEW = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (self.HELD, "Held for review (invalid drafts, not sent)"),
            (self.REVIEW, "Needs review (unresolved errors)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> QuerySet[Cdr]:
        # The conditions of CdrQuerySet.held_for_review() and .needs_review().
        if self.value() == self.HELD:
            return queryset.filter(
                status=CdrStatus.DRAFT, validation_status=ValidationStatus.INVALID
            )
        if self.value() == self.REVIEW:
            return queryset.filter(Exists(unresolved_error_findings().filter(cdr=OuterRef("pk"))))
        return queryset


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=CdrReview.Decision.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="What was checked and decided. Required for a dispute: it is what the "
        "partner will be told.",
    )


class CreditReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=255,  # Cdr.remark
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Why this CDR is cancelled. It becomes the credit CDR's remark and is kept in "
        "the audit log.",
    )


@dataclass(frozen=True)
class ReadingRow:
    """A meter reading as the signed-data panel shows it."""

    time: str
    type: str
    register: str
    value: str
    unit: str
    status: str


_READING_TYPES = {
    "B": "begin",
    "C": "charging",
    "X": "exception",
    "E": "end",
    "L": "end (local)",
    "R": "end (remote)",
    "A": "end (abort)",
    "P": "end (power failure)",
    "S": "suspended",
    "T": "tariff change",
}
_METER_STATUSES = {"G": "OK"}
# admin/img icon per outcome: proven, not proven, refused.
_OUTCOME_ICONS = {
    SignedValueOutcome.VERIFIED: "yes",
    SignedValueOutcome.NO_PUBLIC_KEY: "alert",
    SignedValueOutcome.UNSUPPORTED_ENCODING: "alert",
    SignedValueOutcome.INVALID_SIGNATURE: "no",
    SignedValueOutcome.MALFORMED: "no",
}


def _reading_row(reading: MeterReading) -> ReadingRow:
    time = reading.time.isoformat(sep=" ")
    return ReadingRow(
        time=f"{time} ({reading.time_status})" if reading.time_status else time,
        type=_READING_TYPES.get(reading.type, reading.type) or EMPTY,
        register=reading.register or EMPTY,
        value=EMPTY if reading.value is None else str(reading.value),  # the digits signed
        unit=reading.unit or EMPTY,
        status=_METER_STATUSES.get(reading.status, reading.status) or EMPTY,
    )


def signed_data_panel_html(report: SignedDataReport) -> str:
    """The signed-data panel of a CDR's change page (templates/admin/cdrs/cdr/signed_data.html)."""
    energy = report.signed_energy
    difference = report.energy_difference
    return render_to_string(
        "admin/cdrs/cdr/signed_data.html",
        {
            "report": report,
            # A partner-supplied URL: a link only when it is a web address.
            "url_is_link": report.url.startswith(("https://", "http://")),
            "values": [
                {
                    "value": value,
                    "icon": f"admin/img/icon-{_OUTCOME_ICONS[value.outcome]}.svg",
                    "readings": [_reading_row(r) for r in value.readings],
                }
                for value in report.values
            ],
            "signed_kwh": None if energy is None else format_exact(energy.kwh),
            "begin": None if energy is None else _reading_row(energy.begin),
            "end": None if energy is None else _reading_row(energy.end),
            "total_kwh": format_exact(report.total_energy),
            "difference_kwh": None if difference is None else format_exact(difference),
            "tolerance_kwh": format_exact(report.tolerance),
        },
    )


class CdrPartAdmin(LargeTableAdminMixin, ImmutableObjectAdminMixin, NoAddAdminMixin, OpsModelAdmin):
    """A part of a CDR: created with its CDR, editable (non-money fields) while it is a draft."""

    def is_immutable(self, obj: Any) -> bool:
        return self.owning_cdr(obj).stored_final

    def owning_cdr(self, obj: Any) -> Cdr:
        cdr: Cdr = obj.cdr
        return cdr


@admin.register(Cdr)
class CdrAdmin(LargeTableAdminMixin, ImmutableObjectAdminMixin, NoAddAdminMixin, OpsModelAdmin):
    """CDRs come from the CDR services (generated or received). A final CDR is read-only; a
    draft may have its non-money fields corrected before it is finalized."""

    list_display = (
        "cdr_id",
        "party",
        "start_date_time",
        "end_date_time",
        "total_cost",
        "total_cost_vat",
        "energy",
        "credit",
        "origin",
        "validation_status",
        "status",
    )
    list_select_related = ("party",)
    list_filter = (
        ReviewQueueFilter,
        "status",
        "origin",
        "credit",
        "validation_status",
        ("end_date_time", admin.DateFieldListFilter),
        PartyOwnerFilter,
        "party",
        CdrCountryFilter,
        CdrCurrencyFilter,
        ("source_connection", ConnectionListFilter),
    )
    search_fields = (
        "=cdr_id",
        "=session_ref",
        "=authorization_reference",
        "=billing_reference",
        "=invoice_reference_id",
        "=credit_reference_id",
        "=token_uid",
        "=token_contract_id",
        "=evse_id",
        "=location_ref",
        "=party__country_code",
        "=party__party_id",
    )
    autocomplete_fields = ("session", "location", "token")
    readonly_fields = (
        # Identity and state change only through the CDR services.
        "party",
        "cdr_id",
        "status",
        "origin",
        "protocol_version",
        "created_at",
        "finalized_at",
        "currency",
        "totals_check",
        "tariff_version_at_start",
        "tariff_version_at_end",
        "tariff_version_at_generation",
        "credit",
        "credit_reference_id",
        "credited_cdr",
        "credits",
        "credited_by",
        "validation_status",
        "session_key",
        "idempotency_key",
        "billing_reference",
        "source_connection",
        "signed_data_check",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "cdr_id",
                    "party",
                    "status",
                    "origin",
                    "protocol_version",
                    ("created_at", "finalized_at"),
                    "last_updated",
                )
            },
        ),
        (
            "Session and authorization",
            {
                "fields": (
                    ("session_ref", "session"),
                    ("start_date_time", "end_date_time"),
                    "auth_method",
                    "authorization_reference",
                    "meter_id",
                )
            },
        ),
        (
            "Token",
            {
                "fields": (
                    ("token_country_code", "token_party_id"),
                    ("token_uid", "token_type"),
                    "token_contract_id",
                    "token",
                )
            },
        ),
        (
            "Location at session start",
            {
                "fields": (
                    ("location_ref", "location"),
                    "location_name",
                    "location_address",
                    ("location_postal_code", "location_city"),
                    ("location_state", "location_country"),
                    ("location_latitude", "location_longitude"),
                    ("evse_uid", "evse_id"),
                    "connector_ref",
                    ("connector_standard", "connector_format", "connector_power_type"),
                )
            },
        ),
        (
            "Totals",
            {
                "fields": (
                    "currency",
                    ("total_cost_excl_vat", "total_cost_incl_vat"),
                    ("total_fixed_cost_excl_vat", "total_fixed_cost_incl_vat"),
                    "total_energy",
                    ("total_energy_cost_excl_vat", "total_energy_cost_incl_vat"),
                    "total_time",
                    ("total_time_cost_excl_vat", "total_time_cost_incl_vat"),
                    "total_parking_time",
                    ("total_parking_cost_excl_vat", "total_parking_cost_incl_vat"),
                    ("total_reservation_cost_excl_vat", "total_reservation_cost_incl_vat"),
                    "totals_check",
                )
            },
        ),
        (
            "Tariff provenance",
            {
                "fields": (
                    "tariff_version_at_start",
                    "tariff_version_at_end",
                    "tariff_version_at_generation",
                    "tariffs_snapshot",
                )
            },
        ),
        (
            "Credit",
            {"fields": ("credit", "credit_reference_id", "credits", "credited_by", "remark")},
        ),
        ("Validation", {"fields": ("validation_status", "validation_findings")}),
        (
            "Reconciliation",
            {
                "fields": (
                    "billing_reference",
                    "invoice_reference_id",
                    "session_key",
                    "idempotency_key",
                    "home_charging_compensation",
                    "source_connection",
                )
            },
        ),
        ("Signed meter data", {"fields": ("signed_data_check",)}),
        ("Signed meter data as received", {"classes": ("collapse",), "fields": ("signed_data",)}),
    )
    inlines = (CdrChargingPeriodInline, CdrCostLineInline, CdrFindingInline, CdrReviewInline)
    actions = (
        "issue_credit",
        "verify_signed_data",
        "check_pricing",
        "record_review",
        "finalize",
    )
    # Verifying signatures and pricing are CPU work: one request checks at most this many CDRs.
    verify_action_limit = 500

    total_cost = money_column("total_cost_excl_vat", description="total excl. VAT")
    total_cost_vat = money_column("total_cost_incl_vat", description="total incl. VAT")
    energy = quantity_column("total_energy", description="kWh")

    def is_immutable(self, obj: Cdr) -> bool:
        return obj.stored_final

    @admin.display(description="cost lines vs totals")
    def totals_check(self, obj: Cdr) -> str:
        if obj.pk is None:
            return EMPTY
        if not obj.cost_lines.exists():
            # OCPI CDRs carry totals, not our cost lines: there is nothing to add up.
            return "No cost lines (a CDR as a partner sent it carries its totals only)."
        problems = cdr_cost_mismatches(cdr=obj)
        if not problems:
            return "Cost lines add up to the totals."
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in problems))
        )

    @admin.display(description="credits")
    def credits(self, obj: Cdr) -> str:
        if obj.credited_cdr_id is None:
            return EMPTY
        return format_html("cancels {}", admin_change_link(obj.credited_cdr))

    @admin.display(description="credited by")
    def credited_by(self, obj: Cdr) -> str:
        if obj.pk is None:
            return EMPTY
        credits = list(obj.credit_cdrs.order_by("pk"))
        if not credits:
            return EMPTY
        return format_html_join(", ", "{}", ((admin_change_link(c),) for c in credits))

    @admin.display(description="verification")
    def signed_data_check(self, obj: Cdr) -> str:
        if obj.pk is None:
            return EMPTY
        return signed_data_panel_html(signed_data_verify(cdr=obj))

    # -- credit CDRs: one at a time, with a reason -------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path(
                "<path:object_id>/credit/",
                self.admin_site.admin_view(self.credit_view),
                name=f"{prefix}_credit",
            ),
            path(
                "<path:object_id>/review/",
                self.admin_site.admin_view(self.review_view),
                name=f"{prefix}_review",
            ),
        ]
        # Before the inherited patterns: "<path:object_id>/" would swallow ".../credit/".
        return own + super().get_urls()

    def _url(self, name: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Cdr | None = None,
    ) -> HttpResponse:
        if (
            obj is not None
            and self.has_change_permission(request)
            and cdr_credit_refusal(original=obj) is None
        ):
            context["credit_url"] = self._url("credit", obj.pk)
        # The model permission: a review never changes the CDR, so final ones get it too.
        if obj is not None and self.has_change_permission(request):
            context["review_url"] = self._url("review", obj.pk)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Record a review (accepted or disputed, with a note): it takes the CDR out of the
        "needs review" queue without changing it (cdr_review_record)."""
        cdr = self.get_object(request, unquote(object_id))
        if cdr is None:
            self.message_user(request, f"No CDR with id {object_id!r}.", messages.WARNING)
            return HttpResponseRedirect(self._url("changelist"))
        # The model permission: reviewing never changes the CDR, final or not.
        if not self.has_change_permission(request):
            raise PermissionDenied
        change_url = self._url("change", cdr.pk)
        if request.method == "POST":
            form = ReviewForm(request.POST)
            if form.is_valid():
                try:
                    cdr_review_record(
                        cdr=cdr,
                        decision=form.cleaned_data["decision"],
                        note=form.cleaned_data["note"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(
                        request,
                        f"Review of {cdr.cdr_id} recorded: "
                        f"{CdrReview.Decision(form.cleaned_data['decision']).label}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(change_url)
        else:
            form = ReviewForm()
        unresolved = list(
            unresolved_error_findings().filter(cdr=cdr).order_by("-created_at", "-id")[:50]
        )
        return TemplateResponse(
            request,
            "admin/cdrs/cdr/review.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Review CDR {cdr.cdr_id}",
                "original": cdr,
                "form": form,
                "media": self.media + form.media,
                "changelist_url": self._url("changelist"),
                "change_url": change_url,
                "unresolved": unresolved,
                "last_review": cdr.reviews.order_by("-created_at", "-id").first(),
                "total_cost": format_money(cdr.total_cost_excl_vat, cdr.currency),
                "total_cost_vat": format_money(cdr.total_cost_incl_vat, cdr.currency),
                "total_energy": format_exact(cdr.total_energy),
            },
        )

    def credit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask for a reason, then cancel the CDR with a credit CDR (cdr_issue_credit)."""
        original = self.get_object(request, unquote(object_id))
        if original is None:
            self.message_user(request, f"No CDR with id {object_id!r}.", messages.WARNING)
            return HttpResponseRedirect(self._url("changelist"))
        # The model permission: a final CDR itself is never changeable.
        if not self.has_change_permission(request):
            raise PermissionDenied
        change_url = self._url("change", original.pk)
        refusal = cdr_credit_refusal(original=original)
        if refusal is None and request.method == "POST":
            form = CreditReasonForm(request.POST)
            if form.is_valid():
                try:
                    credit = cdr_issue_credit(
                        original=original,
                        actor=request.user,
                        remark=form.cleaned_data["reason"],
                    )
                except DomainError as exc:
                    refusal = exc
                else:
                    self.message_user(
                        request,
                        format_html(
                            "Credit CDR {} issued for {}.", admin_change_link(credit), original
                        ),
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._url("change", credit.pk))
        else:
            form = CreditReasonForm()
        if refusal is not None:
            self.message_user(
                request,
                f"{original.cdr_id} cannot be credited: {refusal.message}",
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url)
        return TemplateResponse(
            request,
            "admin/cdrs/cdr/issue_credit.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Issue a credit CDR for {original.cdr_id}",
                "original": original,
                "form": form,
                "media": self.media + form.media,
                "changelist_url": self._url("changelist"),
                "change_url": change_url,
                "total_cost": format_money(original.total_cost_excl_vat, original.currency),
                "total_cost_vat": format_money(original.total_cost_incl_vat, original.currency),
                "total_energy": format_exact(original.total_energy),
            },
        )

    @admin.action(description="Issue credit CDR (asks for a reason)", permissions=["change"])
    def issue_credit(
        self, request: HttpRequest, queryset: QuerySet[Cdr]
    ) -> HttpResponseRedirect | None:
        selected = list(queryset.order_by().values_list("pk", flat=True)[:2])
        if len(selected) != 1:
            self.message_user(
                request, "Select one CDR: each credit CDR needs its own reason.", messages.WARNING
            )
            return None
        original = queryset.select_related("party").get(pk=selected[0])
        refusal = cdr_credit_refusal(original=original)
        if refusal is not None:
            self.message_user(
                request, f"{original.cdr_id} cannot be credited: {refusal.message}", messages.ERROR
            )
            return None
        return HttpResponseRedirect(self._url("credit", selected[0]))

    @admin.action(description="Verify signed meter data", permissions=["change"])
    def verify_signed_data(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> None:
        limit = self.verify_action_limit
        cdrs = list(queryset.order_by("pk")[: limit + 1])
        if len(cdrs) > limit:
            self.message_user(
                request,
                f"More than {limit} CDRs selected: the first {limit} were checked. "
                "Narrow the list with filters to check the rest.",
                messages.WARNING,
            )
            cdrs = cdrs[:limit]
        with_errors: list[Cdr] = []
        with_warnings = 0
        for cdr in cdrs:
            severities = {f.severity for f in cdr_check_signed_data(cdr=cdr, actor=request.user)}
            if CdrFinding.Severity.ERROR in severities:
                with_errors.append(cdr)
            elif CdrFinding.Severity.WARNING in severities:
                with_warnings += 1
        self.message_user(
            request,
            f"Signed meter data checked for {len(cdrs)} CDR{'s' if len(cdrs) != 1 else ''}: "
            f"{len(with_errors)} with errors, {with_warnings} with warnings.",
            messages.SUCCESS if not with_errors else messages.WARNING,
        )
        if with_errors:
            shown = with_errors[:20]
            self.message_user(
                request,
                format_html(
                    "Errors in {}{}.",
                    format_html_join(", ", "{}", ((admin_change_link(c),) for c in shown)),
                    " and more" if len(with_errors) > len(shown) else "",
                ),
                messages.ERROR,
            )

    @admin.action(
        description="Validate and finalize drafts (held ones after correction)",
        permissions=["change"],
    )
    def finalize(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> None:
        """Our drafts are validated first and finalized only when valid (a held draft stays
        held until its problems are corrected); received drafts are finalized as they are."""
        for cdr in queryset.select_related("party", "location", "tariff_version_at_start"):
            if cdr.stored_final:
                self.message_user(request, f"{cdr.cdr_id} was already final.", messages.INFO)
                continue
            try:
                if cdr.origin == CdrOrigin.GENERATED:
                    outcome = cdr_validate_and_finalize(cdr=cdr, actor=request.user)
                    if not outcome.finalized:
                        problems = "; ".join(p.message for p in outcome.problems[:5])
                        more = " …" if len(outcome.problems) > 5 else ""
                        self.message_user(
                            request,
                            f"{cdr.cdr_id} is still held for review: {problems}{more}",
                            messages.ERROR,
                        )
                        continue
                else:
                    cdr_finalize(cdr=cdr, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{cdr.cdr_id}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{cdr.cdr_id} is final.", messages.SUCCESS)

    @admin.action(description="Check pricing against the partner's tariff", permissions=["change"])
    def check_pricing(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> None:
        limit = self.verify_action_limit
        cdrs = list(
            queryset.filter(origin=CdrOrigin.RECEIVED)
            .select_related("party__partner", "location")
            .order_by("pk")[: limit + 1]
        )
        if len(cdrs) > limit:
            self.message_user(
                request,
                f"More than {limit} partner CDRs selected: the first {limit} were checked. "
                "Narrow the list with filters to check the rest.",
                messages.WARNING,
            )
            cdrs = cdrs[:limit]
        if not cdrs:
            self.message_user(
                request, "Only CDRs received from partners are checked.", messages.WARNING
            )
            return
        queued = [
            cdr
            for cdr in cdrs
            if any(
                f.code == "REVIEW_REQUIRED" for f in cdr_check_pricing(cdr=cdr, actor=request.user)
            )
        ]
        self.message_user(
            request,
            f"Pricing checked for {len(cdrs)} CDR{'s' if len(cdrs) != 1 else ''}: "
            f"{len(queued)} need review.",
            messages.SUCCESS if not queued else messages.WARNING,
        )
        if queued:
            shown = queued[:20]
            self.message_user(
                request,
                format_html(
                    "Needs review: {}{}.",
                    format_html_join(", ", "{}", ((admin_change_link(c),) for c in shown)),
                    " and more" if len(queued) > len(shown) else "",
                ),
                messages.WARNING,
            )

    @admin.action(description="Record review (accept or dispute)", permissions=["change"])
    def record_review(
        self, request: HttpRequest, queryset: QuerySet[Cdr]
    ) -> HttpResponseRedirect | None:
        selected = list(queryset.order_by().values_list("pk", flat=True)[:2])
        if len(selected) != 1:
            self.message_user(
                request, "Select one CDR: each review has its own note.", messages.WARNING
            )
            return None
        return HttpResponseRedirect(self._url("review", selected[0]))


@admin.register(CdrChargingPeriod)
class CdrChargingPeriodAdmin(CdrPartAdmin):
    list_display = ("cdr", "sequence", "start_date_time", "tariff_ref", "cdr_status")
    list_select_related = ("cdr",)
    list_filter = ("cdr__status",)
    search_fields = ("=cdr__cdr_id", "=tariff_ref")
    readonly_fields = ("cdr",)
    fields = ("cdr", "sequence", "start_date_time", "tariff_ref")
    inlines = (CdrChargingDimensionInline,)

    @admin.display(description="CDR status", ordering="cdr__status")
    def cdr_status(self, obj: CdrChargingPeriod) -> str:
        return obj.cdr.get_status_display()


@admin.register(CdrChargingDimension)
class CdrChargingDimensionAdmin(CdrPartAdmin):
    list_display = ("period", "cdr", "type", "quantity")
    list_select_related = ("period", "period__cdr")
    list_filter = ("type", "period__cdr__status")
    search_fields = ("=period__cdr__cdr_id",)
    readonly_fields = ("cdr", "period")
    fields = ("cdr", "period", "type", "volume")

    quantity = quantity_column("volume", description="volume")

    def owning_cdr(self, obj: CdrChargingDimension) -> Cdr:
        return obj.period.cdr

    @admin.display(description="CDR", ordering="period__cdr")
    def cdr(self, obj: CdrChargingDimension) -> str:
        return admin_change_link(obj.period.cdr)


@admin.register(CdrCostLine)
class CdrCostLineAdmin(CdrPartAdmin):
    list_display = (
        "cdr",
        "period",
        "component",
        "dimension",
        "quantity",
        "unit",
        "vat",
        "amount",
        "amount_vat",
        "tariff_version",
    )
    list_select_related = ("cdr", "period", "tariff_version__tariff")
    list_filter = ("component", "dimension", CdrCurrencyFilter, "cdr__status")
    search_fields = ("=cdr__cdr_id", "=tariff_version__tariff__tariff_id")
    readonly_fields = ("cdr", "period", "currency", "tariff_version", "element_index")
    fields = (
        "cdr",
        "period",
        ("component", "dimension"),
        "volume",
        "unit_price",
        "vat_rate",
        "currency",
        ("amount_excl_vat", "amount_incl_vat"),
        ("tariff_version", "element_index"),
        "explanation",
    )

    quantity = quantity_column("volume", description="volume")
    # Unit prices keep their precision (0.2533 EUR/kWh); only amounts are rounded for display.
    unit = quantity_column("unit_price", description="unit price excl. VAT")
    vat = quantity_column("vat_rate", description="VAT %")
    amount = money_column("amount_excl_vat", description="amount excl. VAT")
    amount_vat = money_column("amount_incl_vat", description="amount incl. VAT")


class FindingCodeFilter(RecentValuesListFilter):
    title = "code"
    parameter_name = "code"
    field_name = "code"


@admin.register(CdrFinding)
class CdrFindingAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    """What checks found about CDRs (signed meter data, pricing, validation); append-only."""

    list_display = ("created_at", "cdr_link", "source", "severity", "code", "message")
    list_select_related = ("cdr",)
    list_filter = (
        "source",
        "severity",
        FindingCodeFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("=cdr__cdr_id", "=code")
    fields = ("created_at", "cdr", "source", "severity", "code", "message", "details")

    @admin.display(description="CDR", ordering="cdr")
    def cdr_link(self, obj: CdrFinding) -> str:
        return admin_change_link(obj.cdr)


# -- per-partner CDR rules (eMSP role) ------------------------------------------------------------
class PartnerCdrRulesInline(OpsTabularInline):
    model = PartnerCdrRules
    fields = (
        "tolerance",
        "min_energy_kwh",
        "max_energy_kwh",
        "min_duration_hours",
        "max_duration_hours",
        "max_total_cost_excl_vat",
        "max_price_per_kwh_excl_vat",
    )
    max_num = 1
    extra = 1
    verbose_name_plural = "CDR rules (empty: tolerance 0.01, no bounds)"


def _rule_column(name: str, description: str) -> Any:
    @admin.display(description=description)
    def column(_admin: Any, obj: PartnerCdrRulesView) -> str:
        value = getattr(_rules_of(obj), name)
        return EMPTY if value is None else format_exact(value)

    return column


def _rules_of(partner: PartnerCdrRulesView) -> PartnerCdrRules:
    """The rules loaded with the partner (select_related), else the defaults; no query."""
    try:
        return partner.cdr_rules
    except PartnerCdrRules.DoesNotExist:
        return PartnerCdrRules()


@admin.register(PartnerCdrRulesView)
class PartnerCdrRulesAdmin(NoAddAdminMixin, OpsModelAdmin):
    """Every partner with the rules its CDRs are checked by (cdr_check_pricing): the tolerance
    per total and bounds on energy, duration, total cost and price per kWh. Edited inline; a
    partner without rules is checked with the defaults."""

    list_display = (
        "name",
        "tolerance",
        "min_energy",
        "max_energy",
        "min_duration",
        "max_duration",
        "max_total_cost",
        "max_price_per_kwh",
        "customised",
    )
    list_select_related = ("cdr_rules",)
    search_fields = ("name",)
    ordering = ("name",)
    fields = ("name",)
    readonly_fields = ("name",)
    inlines = (PartnerCdrRulesInline,)

    tolerance = _rule_column("tolerance", "tolerance")
    min_energy = _rule_column("min_energy_kwh", "min kWh")
    max_energy = _rule_column("max_energy_kwh", "max kWh")
    min_duration = _rule_column("min_duration_hours", "min hours")
    max_duration = _rule_column("max_duration_hours", "max hours")
    max_total_cost = _rule_column("max_total_cost_excl_vat", "max total excl. VAT")
    max_price_per_kwh = _rule_column("max_price_per_kwh_excl_vat", "max per kWh excl. VAT")

    @admin.display(description="own rules", boolean=True)
    def customised(self, obj: PartnerCdrRulesView) -> bool:
        return _rules_of(obj).pk is not None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # partners are deleted (if ever) in the partners admin
