"""/docs (Swagger UI) and /redoc, working offline: their scripts, stylesheet and icon are served
by the service itself (the files of the ``fastapi-offline`` package), not fetched from a CDN,
through FastAPI's own page builders (its documented way to self-host the docs' assets); and
/docs/API.md, the description in words (docs/API.md, packaged as cielo/docs/API.md)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response

from cielo.web.routing import LeanRoute

ASSETS = "/docs/assets"
_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
_STATIC = files("fastapi_offline") / "static"
_GUIDE = files("cielo") / "docs" / "API.md"

router = APIRouter(route_class=LeanRoute, include_in_schema=False)


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_swagger_ui_html(openapi_url=root + "/openapi.json", title="cielo - API reference",
                               swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{root}{ASSETS}/favicon.png")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_redoc_html(openapi_url=root + "/openapi.json", title="cielo - API reference",
                          redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{root}{ASSETS}/favicon.png", with_google_fonts=False)


@router.get(ASSETS + "/{name}")
async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _FILES:
        raise HTTPException(404)
    return FileResponse(str(_STATIC / name), media_type=_FILES[name],
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/docs/API.md")
async def guide(request: Request) -> Response:
    return Response(_GUIDE.read_bytes(), media_type="text/plain; charset=utf-8")
