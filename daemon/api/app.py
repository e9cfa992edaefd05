"""The Starlette application: every route in one table, errors rendered as JSON."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from daemon.api import health, strategies, tokens
from daemon.api.common import BadRequest, BodyTooLarge
from daemon.services import Services

log = logging.getLogger(__name__)

EXTRA_ROUTES: list[BaseRoute] = []  # feature modules append their routes at import time


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/api/v1/strategies", strategies.create_strategy, methods=["POST"]),
        Route("/api/v1/strategies", strategies.list_strategies, methods=["GET"]),
        Route("/api/v1/strategies/{strategy_id}", strategies.get_strategy, methods=["GET"]),
        Route("/api/v1/strategies/{strategy_id}/activate", strategies.activate_strategy,
              methods=["POST"]),
        Route("/api/v1/tokens", tokens.create_token, methods=["POST"]),
        Route("/api/v1/tokens", tokens.list_tokens, methods=["GET"]),
        Route("/api/v1/tokens/{token_id}", tokens.revoke_token, methods=["DELETE"]),
        *EXTRA_ROUTES,
    ]


async def _too_large(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "request body is over the 1 MiB limit",
                         "problems": ["body: over the 1 MiB limit"]}, status_code=413)


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return JSONResponse({"error": exc.message, "problems": exc.problems}, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error; see the daemon log"}, status_code=500)


def build_app(services: Services) -> Starlette:
    app = Starlette(
        routes=routes(),
        exception_handlers={
            BodyTooLarge: _too_large,
            BadRequest: _bad_request,
            HTTPException: _http_error,
            Exception: _crash,
        },
    )
    app.state.services = services
    return app
