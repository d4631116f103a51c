"""Building blocks of the ops console, shared by every app's admin, and the audit log admin.

Every ModelAdmin derives from :class:`OpsModelAdmin` (inlines from :class:`OpsTabularInline`), so
JSON documents and amounts are read-only everywhere without each admin having to remember it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.admin.utils import flatten, flatten_fieldsets
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from apps.core.fields import AMOUNT_DECIMALS, AMOUNT_DIGITS
from apps.core.models import AuditLogEntry, JobFailure
from apps.core.money import format_money

EMPTY = "—"

# A display function as the admin calls it when it is a ModelAdmin attribute: (admin, obj).
Column = Callable[[Any, Any], Any]


# -- counting ------------------------------------------------------------------------------------
class CappedCountPaginator(Paginator):
    """A paginator that never counts more than ``settings.ADMIN_COUNT_CAP`` rows.

    On PostgreSQL a plain ``COUNT(*)`` visits every row, which takes seconds on the tables of
    millions of rows (CDRs, sessions, status history). Counting a LIMITed query stops after
    cap + 1 rows. When there are more rows than the cap, ``count`` reports the cap and ``capped``
    is true: the changelist shows "10000+" (templates/admin/pagination.html), and pages after
    cap / per_page cannot be reached; narrow the list with filters or search instead.
    """

    @cached_property
    def _found(self) -> int:
        cap = settings.ADMIN_COUNT_CAP
        object_list = self.object_list
        if isinstance(object_list, QuerySet):
            return object_list.order_by()[: cap + 1].count()
        return len(object_list)

    @cached_property
    def count(self) -> int:
        return min(self._found, settings.ADMIN_COUNT_CAP)

    @property
    def capped(self) -> bool:
        return self._found > settings.ADMIN_COUNT_CAP


def related_count(model: type[models.Model], fk_name: str) -> Coalesce:
    """The number of ``model`` rows whose ``fk_name`` points at the outer row, as an annotation.

    A correlated subquery rather than JOIN + GROUP BY: the database counts for the rows of the
    page being shown, instead of aggregating the whole table before the LIMIT.
    """
    counted = (
        model._default_manager.filter(**{fk_name: OuterRef("pk")})
        .order_by()
        .values(fk_name)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=models.IntegerField()), 0)


# -- displays ------------------------------------------------------------------------------------
def format_exact(value: Decimal | None) -> str:
    """A full-precision quantity without trailing zeros (not rounded: format_money does that)."""
    if value is None:
        return EMPTY
    return format(value.normalize(), "f")


def format_duration(value: timedelta | None) -> str:
    """A span for a person, to the second at most and in its two largest units: "45 s",
    "3 min 12 s", "4 h 05 min", "2 d 3 h" (never the microseconds of ``str(timedelta)``)."""
    if value is None:
        return EMPTY
    sign = "-" if value < timedelta(0) else ""
    seconds = int(abs(value).total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        text = f"{hours} h {minutes:02d} min"
    elif minutes:
        text = f"{minutes} min {secs} s" if secs else f"{minutes} min"
    else:
        text = f"{secs} s"
    return sign + text


def pretty_json(value: Any) -> str:
    if value is None:
        return EMPTY
    text = json.dumps(value, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)
    return format_html('<pre class="roamdesk-json">{}</pre>', text)


def money_column(amount: str, *, currency: str = "currency", description: str) -> Column:
    """A list column showing ``amount`` rounded for its currency, e.g. "12.35 EUR"."""

    @admin.display(description=description, ordering=amount)
    def column(_admin: Any, obj: Any) -> str:
        return format_money(getattr(obj, amount), getattr(obj, currency))

    return column


def quantity_column(name: str, *, description: str) -> Column:
    """A list column showing a full-precision quantity (kWh, hours) without trailing zeros."""

    @admin.display(description=description, ordering=name)
    def column(_admin: Any, obj: Any) -> str:
        return format_exact(getattr(obj, name))

    return column


def annotated_column(name: str, *, description: str) -> Column:
    """A list column showing an annotation added in ``get_queryset`` (no query per row)."""

    @admin.display(description=description, ordering=name)
    def column(_admin: Any, obj: Any) -> Any:
        return getattr(obj, name)

    return column


def admin_change_link(obj: models.Model | None, text: object = None) -> str:
    if obj is None:
        return EMPTY
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def admin_changelist_link(model: type[models.Model], text: object, **filters: object) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


# -- read-only field swaps -----------------------------------------------------------------------
def _swap_names(fields: Iterable[Any], swaps: Mapping[str, str], seen: set[str]) -> list[Any]:
    """``fields`` (names, or tuples of names shown on one line) with each swapped name replaced,
    each name kept once."""
    result: list[Any] = []
    for item in fields:
        names = [item] if isinstance(item, str) else list(item)
        line = []
        for name in (swaps.get(n, n) for n in names):
            if name not in seen:
                seen.add(name)
                line.append(name)
        if line:
            result.append(line[0] if isinstance(item, str) else tuple(line))
    return result


class SwappedFieldsAdminMixin(BaseModelAdmin):
    """Shows some model fields through read-only display callables instead of form fields.

    Subclasses call :meth:`swap_field` in ``__init__``; ``fields``, ``fieldsets`` and
    ``readonly_fields`` may keep naming the model field, which is then replaced everywhere by its
    display. The model field itself stays in the read-only list, so it never reaches a form.
    Works for ModelAdmins and inlines alike.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field_swaps: dict[str, str] = {}

    def swap_field(
        self, field: models.Field[Any, Any], suffix: str, render: Callable[[Any], str]
    ) -> None:
        display_name = f"{field.name}{suffix}"
        help_text = str(field.help_text)

        @admin.display(description=field.verbose_name)
        def display(obj: models.Model) -> str:
            shown = render(field.value_from_object(obj))
            if help_text:
                return format_html('{}<div class="help">{}</div>', shown, help_text)
            return shown

        setattr(self, display_name, display)
        self.field_swaps[field.name] = display_name

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        for raw, shown in self.field_swaps.items():
            readonly += [name for name in (raw, shown) if name not in readonly]
        return readonly

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return _swap_names(super().get_fields(request, obj), self.field_swaps, set())

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        seen: set[str] = set()
        fieldsets = []
        for title, options in super().get_fieldsets(request, obj):
            swapped = options.copy()
            swapped["fields"] = _swap_names(options["fields"], self.field_swaps, seen)
            fieldsets.append((title, swapped))
        return fieldsets


class PrettyJSONAdminMixin(SwappedFieldsAdminMixin):
    """Every JSONField of the model is shown read-only, pretty-printed, as ``<name>_pretty``.

    These fields hold OCPI sub-documents written by services and partners; a raw JSON textarea
    invites hand edits that no service validates.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.model._meta.concrete_fields:
            if isinstance(field, models.JSONField):
                self.swap_field(field, "_pretty", pretty_json)


def is_amount_field(field: models.Field[Any, Any]) -> bool:
    """True for fields made by ``amount_field``/``optional_amount_field`` (their precision is
    used by no other factory)."""
    return (
        isinstance(field, models.DecimalField)
        and field.max_digits == AMOUNT_DIGITS
        and field.decimal_places == AMOUNT_DECIMALS
    )


class AmountsReadOnlyAdminMixin(SwappedFieldsAdminMixin):
    """Every amount (prices, totals, volumes) is read-only and shown at full precision.

    Amounts come from the tariff engine or from partners and must add up with their cost lines;
    corrections are credit CDRs, never edits.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.model._meta.concrete_fields:
            if is_amount_field(field):
                self.swap_field(field, "_exact", format_exact)


# Partner URLs are HTTPS; typing one without a scheme should not produce an http:// URL.
_FORMFIELD_OVERRIDES: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.URLField: {"assume_scheme": "https"}
}


class OpsModelAdmin(PrettyJSONAdminMixin, AmountsReadOnlyAdminMixin, admin.ModelAdmin):
    """The base of every ModelAdmin of the project.

    ``list_select_related`` applies to every queryset of the admin (change page, autocomplete,
    actions), not only to the list: several models' ``__str__`` read a related row, and the
    changelist ignores ``list_select_related`` once the queryset already selects related rows.
    """

    formfield_overrides = _FORMFIELD_OVERRIDES

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        related = self.get_list_select_related(request)
        if isinstance(related, list | tuple) and related:
            queryset = queryset.select_related(*related)
        return queryset

    class Media:
        css = {"all": ("roamdesk/admin.css",)}


class OpsTabularInline(PrettyJSONAdminMixin, AmountsReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    formfield_overrides = _FORMFIELD_OVERRIDES


# -- permissions -----------------------------------------------------------------------------------
class NoAddAdminMixin(BaseModelAdmin):
    """Rows that only services or partner data create (they need amounts, versions, history)."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False


class ReadOnlyAdminMixin(NoAddAdminMixin):
    """For append-only records: they can be viewed, never added, changed or deleted here."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Inline formsets build forms even without change permission: every declared name,
        # model field or display, must be read-only so none reaches a form.
        readonly = list(super().get_readonly_fields(request, obj))
        declared = (
            flatten_fieldsets(self.fieldsets) if self.fieldsets else flatten(self.fields or ())
        )
        return readonly + [name for name in declared if name not in readonly]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ImmutableObjectAdminMixin(admin.ModelAdmin):
    """Some objects of the model are read-only: those for which :meth:`is_immutable` is true.

    Their change page opens in view mode. The bulk "delete selected" action is removed because
    it cannot ask each object.
    """

    def is_immutable(self, obj: Any) -> bool:
        raise NotImplementedError

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.is_immutable(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.is_immutable(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


# -- large tables ----------------------------------------------------------------------------------
class LargeTableAdminMixin(admin.ModelAdmin):
    """For tables of millions of rows: bounded counts, no facet counts, index-friendly order.

    The default order is the primary key, newest first: ordering by another column (plus the
    primary key Django adds as a tie-breaker) makes the database sort the whole table to show
    the first page. Column headers still sort on demand.
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-pk",)


class RecentValuesListFilter(admin.SimpleListFilter):
    """Filter on the values of a column, choices taken from the latest rows only.

    Listing the distinct values of a column (what ``list_filter = ["col"]`` does) reads the
    whole table; this reads the latest ``ADMIN_COUNT_CAP`` rows. A value that only occurs in
    older rows can still be filtered on by URL (``?<parameter_name>=<value>``).
    """

    field_name = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        model = model_admin.model
        recent = model._default_manager.order_by("-pk").values("pk")[: settings.ADMIN_COUNT_CAP]
        values = set(
            model._default_manager.filter(pk__in=Subquery(recent))
            .order_by()
            .values_list(self.field_name, flat=True)
            .distinct()
        )
        current = self.value()
        if current:
            values.add(current)
        return [(str(v), str(v)) for v in sorted(v for v in values if v not in ("", None))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field_name: value}) if value else queryset


# -- audit log ---------------------------------------------------------------------------------
class AuditActionFilter(RecentValuesListFilter):
    title = "action"
    parameter_name = "action"
    field_name = "action"


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    list_display = ("created_at", "actor_label", "action", "content_type", "object_repr", "target")
    list_select_related = ("content_type",)
    list_filter = (AuditActionFilter, "content_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor_label", "object_repr", "=object_id")
    fields = (
        "created_at",
        ("actor", "actor_label"),
        "action",
        ("content_type", "object_id"),
        "object_repr",
        "target",
        "before",
        "after",
    )

    @admin.display(description="object")
    def target(self, obj: AuditLogEntry) -> str:
        content_type = obj.content_type
        if content_type is None or not obj.object_id:
            return EMPTY
        try:
            url = reverse(
                f"admin:{content_type.app_label}_{content_type.model}_change",
                args=[obj.object_id],
            )
        except NoReverseMatch:
            return obj.object_id
        return format_html('<a href="{}">{}</a>', url, obj.object_id)


@admin.register(JobFailure)
class JobFailureAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, OpsModelAdmin):
    list_display = ("created_at", "task", "short_error")
    list_filter = ("task", ("created_at", admin.DateFieldListFilter))
    search_fields = ("task", "error")
    fields = ("created_at", "task", "arguments", "error", "traceback")

    @admin.display(description="error")
    def short_error(self, obj: JobFailure) -> str:
        return obj.error[:120] + ("…" if len(obj.error) > 120 else "")
