"""extrawest-ocpi as the judge of our module endpoints: runs INSIDE the extrawest virtualenv.

``tests/interop/test_extrawest_modules.py`` starts this script with the interpreter of the
virtualenv that ``tests/interop/conftest.py`` builds (py_ocpi, pydantic 1, httpx 0.24) and
writes a plan on its stdin (JSON)::

    {"fixtures": "<tests/fixtures/ocpi/2.2.1>", "steps": [<step>, ...]}

Every step is one HTTP call to our live server, made with httpx as extrawest makes its calls::

    {"name": "...", "method": "PUT", "url": "http://127.0.0.1:<port>/ocpi/2.2.1/...",
     "headers": {...}, "params": {...},
     "body": null | <build>,
     "answer": null | {"schema": "<module>.<Class>", "many": false},
     "paginate": false}

A ``<build>`` is an object made with extrawest's own schemas, from a spec example and/or data::

    {"schema": "locations.Location" | null, "example": "locations/location_example.json",
     "data": {...}, "set": {...}, "add": {...}, "partial": false}

``example`` (a file below ``fixtures``) or ``data`` gives the object, ``set`` overrides top-level
fields, ``add`` is merged (nested) into what extrawest encoded: spec fields its schema lacks;
it is parsed with the extrawest schema (``parse_obj``, so its validators apply: e.g.
CiStrings come out lower case) and sent as extrawest sends what it pushes: ``model.dict()``
(every optional field, ``null`` when unset) as httpx ``json=``; a partial (PATCH) object is sent
with ``dict(exclude_unset=True)``. With ``schema`` null the data is sent as given (used where
extrawest's schema departs from the spec).

The answer's ``data`` is validated with the extrawest schema named in ``answer`` (each element
when ``many``). ``paginate`` follows the ``Link`` header until it is absent, validating every page.
The script prints one JSON report per step on stdout::

    {"name", "method", "url", "request": <body sent>, "pages": [{"url", "http_status",
     "ocpi_status", "status_message", "headers": {...}, "count": n}],
     "errors": [...], "unknown_fields": [...], "data": <data of the last page>}

``errors`` are extrawest's validation errors (and a body extrawest could not build);
``unknown_fields`` lists the keys our objects carry that extrawest's schema does not know
(pydantic 1 ignores extra keys, so they are reported rather than hidden).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def schema_class(name: str) -> type[BaseModel]:
    module, _, cls = name.rpartition(".")
    loaded = importlib.import_module(f"py_ocpi.modules.{module}.v_2_2_1.schemas")
    found: type[BaseModel] = getattr(loaded, cls)
    return found


def model_of(field: Any) -> type[BaseModel] | None:
    inner = getattr(field, "type_", None)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner
    return None


def unknown_fields(model: type[BaseModel], data: Any, path: str) -> list[str]:
    """The keys of ``data`` (recursively) that ``model`` does not declare."""
    if isinstance(data, list):
        found: list[str] = []
        for index, item in enumerate(data):
            found += unknown_fields(model, item, f"{path}[{index}]")
        return found
    if not isinstance(data, dict):
        return []
    found = []
    fields: dict[str, Any] = getattr(model, "__fields__")  # noqa: B009 (pydantic 1 here)
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        field = fields.get(key)
        if field is None:
            found.append(where)
            continue
        nested = model_of(field)
        if nested is not None and value is not None:
            found += unknown_fields(nested, value, where)
    return found


def judge(schema: str, data: Any, *, many: bool) -> tuple[list[str], list[str]]:
    """extrawest's validation errors and the keys it does not know, for ``data``."""
    model = schema_class(schema)
    items = data if many else [data]
    if many and not isinstance(data, list):
        return [f"data is {type(data).__name__}, not a list"], []
    errors: list[str] = []
    unknown: list[str] = []
    for index, item in enumerate(items):
        where = f"[{index}]" if many else ""
        try:
            model.parse_obj(item)
        except ValidationError as invalid:
            for error in invalid.errors():
                loc = ".".join(str(p) for p in error["loc"])
                errors.append(f"{schema}{where}.{loc}: {error['msg']} ({error['type']})")
        unknown += [f"{schema}{where}.{k}" for k in unknown_fields(model, item, "")]
    return errors, unknown


def build(spec: dict[str, Any], fixtures: Path) -> Any:
    data: dict[str, Any] = {}
    if spec.get("example"):
        data = json.loads((fixtures / spec["example"]).read_text())
    data.update(spec.get("data") or {})
    data.update(spec.get("set") or {})
    if spec.get("schema") is None:
        return data
    model = schema_class(spec["schema"]).parse_obj(data)
    # extrawest pushes ``adapter.<kind>_adapter(...).dict()`` with httpx ``json=`` (core/push.py).
    built: dict[str, Any] = model.dict(exclude_unset=bool(spec.get("partial")))
    return deep_merged(built, spec.get("add") or {})


def deep_merged(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``into`` with ``extra`` merged in, nested objects key by key."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merged(into[key], value)
        else:
            into[key] = value
    return into


def call(client: httpx.Client, step: dict[str, Any], fixtures: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "name": step["name"],
        "method": step["method"],
        "url": step["url"],
        "pages": [],
        "errors": [],
        "unknown_fields": [],
        "data": None,
        "request": None,
    }
    kwargs: dict[str, Any] = {"headers": step.get("headers") or {}}
    if step.get("body") is not None:
        try:
            body = build(step["body"], fixtures)
        except ValidationError as invalid:
            report["errors"].append(f"extrawest cannot build the request body: {invalid}")
            return report
        report["request"] = json.loads(json.dumps(body))
        kwargs["json"] = body
    url: str | None = step["url"]
    params = step.get("params")
    answer = step.get("answer")
    while url is not None:
        response = client.request(step["method"], url, params=params, **kwargs)
        params = None  # a Link repeats every filter (spec 2.7)
        try:
            envelope = response.json()
        except ValueError:
            envelope = {}
            report["errors"].append(f"{url}: not JSON: {response.text[:300]!r}")
        data = envelope.get("data") if isinstance(envelope, dict) else None
        report["pages"].append(
            {
                "url": url,
                "http_status": response.status_code,
                "ocpi_status": envelope.get("status_code") if isinstance(envelope, dict) else None,
                "status_message": (
                    envelope.get("status_message") if isinstance(envelope, dict) else None
                ),
                "headers": {k.lower(): v for k, v in response.headers.items()},
                "count": len(data) if isinstance(data, list) else None,
            }
        )
        report["data"] = data
        if answer is not None and response.is_success:
            errors, unknown = judge(answer["schema"], data, many=bool(answer.get("many")))
            report["errors"] += [f"{url}: {e}" for e in errors]
            report["unknown_fields"] += unknown
        url = None
        if step.get("paginate"):
            link = LINK.search(response.headers.get("link", ""))
            if link:
                url = link.group(1)
                if len(report["pages"]) > 100:
                    report["errors"].append("more than 100 pages: Link never ends")
                    break
    return report


def main() -> None:
    plan = json.load(sys.stdin)
    fixtures = Path(plan["fixtures"])
    reports = []
    with httpx.Client(trust_env=False, timeout=30) as client:
        for step in plan["steps"]:
            reports.append(call(client, step, fixtures))
    json.dump(reports, sys.stdout)


if __name__ == "__main__":
    main()
