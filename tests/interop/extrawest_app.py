"""A running extrawest-ocpi (``py_ocpi``) platform for the interop tests: our harness, their code.

This file runs INSIDE the extrawest virtualenv that ``tests/interop/conftest.py`` builds, never
in roamdesk's (extrawest pins FastAPI 0.101, httpx 0.24 and pydantic 1). It imports py_ocpi and
supplies what py_ocpi leaves to its user: a CRUD backend (only the credentials module does
anything) and an authenticator, both keeping every piece of state in memory. The OCPI routes,
the version information, the credentials handshake logic and the calls back to the registering
party are all extrawest's own.

    XW_TOKEN_A=<token A> python extrawest_app.py --port 8123

It plays an eMSP ``DE*XWE`` and serves on ``http://127.0.0.1:<port>``; its versions URL is
``/ocpi/versions``. Besides extrawest's routes the harness adds, for the tests only:

* ``GET /_harness/health``: ready;
* ``GET /_harness/state``: the valid tokens A, every registered client (the token C we issued,
  the credentials and endpoints the client gave) and a log of the CRUD calls extrawest made;
* ``POST /_harness/reset``: back to the initial state (token A from the environment valid, no
  clients); the JSON body may replace our ``business_details``.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

COUNTRY_CODE = "DE"
PARTY_ID = "XWE"
DEFAULT_BUSINESS_DETAILS: dict[str, Any] = {
    "name": "Extrawest interop eMSP",
    "website": "https://ocpi.extrawest.example/",
    "logo": {
        "url": "https://ocpi.extrawest.example/logo.png",
        "thumbnail": "https://ocpi.extrawest.example/logo-small.png",
        "category": "OPERATOR",
        "type": "png",
        "width": 512,
        "height": 512,
    },
}


def configure_environment(port: int) -> None:
    """py_ocpi reads its settings from the environment when it is first imported."""
    os.environ.update(
        PROTOCOL="http",
        OCPI_HOST=f"127.0.0.1:{port}",
        OCPI_PREFIX="ocpi",
        COUNTRY_CODE=COUNTRY_CODE,
        PARTY_ID=PARTY_ID,
        ENVIRONMENT="development",
        PROJECT_NAME="extrawest interop harness",
    )


@dataclass
class Client:
    """A party registered with us: what it sent in its credentials POST/PUT."""

    token_c: str
    credentials: dict[str, Any]
    endpoints: Any
    via_role: str


@dataclass
class State:
    token_a: set[str]
    business_details: dict[str, Any]
    versions_url: str
    clients: dict[str, Client] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def own_credentials(self, token_c: str) -> dict[str, Any]:
        """Our Credentials object for a client: the token it uses to call us (token C)."""
        return {
            "token": token_c,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "business_details": copy.deepcopy(self.business_details),
                    "party_id": PARTY_ID,
                    "country_code": COUNTRY_CODE,
                }
            ],
        }


def build_app(port: int, token_a: str) -> Any:
    configure_environment(port)
    from fastapi import Body
    from fastapi.encoders import jsonable_encoder
    from py_ocpi import get_application
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.enums import ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber

    credentials_module = ModuleID.credentials_and_registration
    state = State(
        token_a={token_a},
        business_details=copy.deepcopy(DEFAULT_BUSINESS_DETAILS),
        versions_url=f"http://127.0.0.1:{port}/ocpi/versions",
    )

    def record(action: str, module: Any, role: Any, **kwargs: Any) -> None:
        state.calls.append(
            {
                "action": action,
                "module": getattr(module, "value", module),
                "role": getattr(role, "value", role),
                "auth_token": kwargs.get("auth_token"),
            }
        )

    class MemoryCrud(Crud):
        """Only the credentials module has state; the other modules hold nothing."""

        @classmethod
        async def get(cls, module: Any, role: Any, id: Any, *args: Any, **kwargs: Any) -> Any:
            record("get", module, role, **kwargs)
            if module != credentials_module:
                return None
            client = state.clients.get(kwargs.get("auth_token") or "")
            return None if client is None else state.own_credentials(client.token_c)

        @classmethod
        async def list(
            cls, module: Any, role: Any, filters: dict[str, Any], *args: Any, **kwargs: Any
        ) -> tuple[list[Any], int, bool]:
            record("list", module, role, **kwargs)
            return [], 0, True

        @classmethod
        async def create(
            cls, module: Any, role: Any, data: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            """A credentials POST that extrawest accepted (token A, client's API reachable)."""
            record("create", module, role, **kwargs)
            if module != credentials_module:
                return data
            token_c = secrets.token_urlsafe(32)
            # OCPI 2.2.1 §5.3 step 7: token A is spent once the registration succeeded.
            state.token_a.discard(kwargs.get("auth_token") or "")
            state.clients[token_c] = Client(
                token_c=token_c,
                credentials=jsonable_encoder(data["credentials"]),
                endpoints=jsonable_encoder(data["endpoints"]),
                via_role=getattr(role, "value", str(role)),
            )
            return state.own_credentials(token_c)

        @classmethod
        async def update(
            cls, module: Any, role: Any, data: dict[str, Any], id: Any, *args: Any, **kwargs: Any
        ) -> Any:
            """A credentials PUT: new client credentials, and a new token C for it (§5.4)."""
            record("update", module, role, **kwargs)
            if module != credentials_module:
                return data
            old = state.clients.pop(kwargs.get("auth_token") or "")
            token_c = secrets.token_urlsafe(32)
            state.clients[token_c] = Client(
                token_c=token_c,
                credentials=jsonable_encoder(data["credentials"]),
                endpoints=jsonable_encoder(data["endpoints"]),
                via_role=old.via_role,
            )
            return state.own_credentials(token_c)

        @classmethod
        async def delete(cls, module: Any, role: Any, id: Any, *args: Any, **kwargs: Any) -> None:
            record("delete", module, role, **kwargs)
            if module == credentials_module:
                state.clients.pop(kwargs.get("auth_token") or "", None)

        @classmethod
        async def do(
            cls, module: Any, role: Any, action: Any, *args: Any, data: Any = None, **kwargs: Any
        ) -> Any:
            record("do", module, role, **kwargs)
            return None

    class MemoryAuthenticator(Authenticator):
        @classmethod
        async def get_valid_token_c(cls) -> list[str]:
            return list(state.clients)

        @classmethod
        async def get_valid_token_a(cls) -> list[str]:
            return list(state.token_a)

    app = get_application(
        version_numbers=[VersionNumber.v_2_2_1],
        roles=[RoleEnum.emsp],
        crud=MemoryCrud,
        modules=[
            ModuleID.credentials_and_registration,
            ModuleID.locations,
            ModuleID.sessions,
            ModuleID.cdrs,
            ModuleID.tariffs,
            ModuleID.tokens,
            ModuleID.commands,
        ],
        authenticator=MemoryAuthenticator,
    )

    @app.get("/_harness/health")
    async def harness_health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/_harness/state")
    async def harness_state() -> dict[str, Any]:
        return {
            "token_a": sorted(state.token_a),
            "versions_url": state.versions_url,
            "clients": [
                {
                    "token_c": c.token_c,
                    "credentials": c.credentials,
                    "endpoints": c.endpoints,
                    "via_role": c.via_role,
                }
                for c in state.clients.values()
            ],
            "calls": state.calls,
        }

    @app.post("/_harness/reset")
    async def harness_reset(
        business_details: dict[str, Any] | None = Body(default=None, embed=True),  # noqa: B008
    ) -> dict[str, Any]:
        state.token_a = {token_a}
        state.clients.clear()
        state.calls.clear()
        state.business_details = copy.deepcopy(business_details or DEFAULT_BUSINESS_DETAILS)
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    token_a = os.environ.get("XW_TOKEN_A", "")
    if not token_a:
        parser.error("set XW_TOKEN_A to the registration token (token A) to accept")
    import uvicorn

    uvicorn.run(build_app(args.port, token_a), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
