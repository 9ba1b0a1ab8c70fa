"""The developer panel's pages (API.md §5): plain HTML forms, no JavaScript needed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from cielo.ids import MAX_ID
from cielo.numbers import integer, is_digits
from cielo.promo.developer.models import Developer
from cielo.promo.developer.service import (
    DeveloperService,
    NotFound,
    PanelError,
    parse_profile,
    reveal_problem,
    try_it,
)
from cielo.promo.environments import Environment
from cielo.services import services
from cielo.web.pages import PAGE_HEADERS, csrf_ok, error_page, render, secure_request

PREFIX = "/developer"
SESSION_COOKIE = "cielo_dev_session"
FORM_EXPIRED = "The form has expired or did not come from this site; reload the page and try again."

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _service(request: Request) -> DeveloperService:
    return services(request).developers


def _see_other(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(request.scope.get("root_path", "") + path, status_code=303, headers=PAGE_HEADERS)


async def _developer(request: Request) -> Developer | None:
    return await _service(request).from_session(request.cookies.get(SESSION_COOKIE))


class SignInRequired(Exception):
    """A page that needs a session was asked for without one: answered with the sign-in page."""


async def _signed_in(request: Request) -> Developer:
    developer = await _developer(request)
    if developer is None:
        raise SignInRequired()
    return developer


def install_handlers(app) -> None:
    """Panel-wide answers: no session → the sign-in page; not yours (or not there) → 404."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired):
        return _see_other(request, "/developer/sign-in")

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, _exc: NotFound):
        return error_page(404, "There is no such application or Access-Token among yours.")


async def _form(request: Request):
    form = await request.form()
    if not csrf_ok(request, form):
        return None
    return form


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("")
async def home(request: Request) -> Response:
    if await _developer(request):
        return _see_other(request, "/developer/applications")
    return _see_other(request, "/developer/sign-in")


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    if await _developer(request):
        return _see_other(request, "/developer/applications")
    notice = "Your account is ready; sign in." if request.query_params.get("welcome") else None
    return render(request, "developer/sign_in.html", developer=None, notice=notice)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await _form(request)
    if form is None:
        return render(request, "developer/sign_in.html", status_code=403, developer=None, error=FORM_EXPIRED)
    email = str(form.get("email", ""))
    try:
        _, token = await _service(request).sign_in(email, str(form.get("password", "")), _client_ip(request))
    except PanelError as exc:
        return render(request, "developer/sign_in.html", status_code=exc.status_code, developer=None, error=str(exc),
                      email=email)
    response = _see_other(request, "/developer/applications")
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure_request(request), path=PREFIX,
        max_age=12 * 3600,
    )
    return response


@router.get("/sign-up")
async def sign_up_page(request: Request) -> Response:
    return render(request, "developer/sign_up.html", developer=None)


@router.post("/sign-up")
async def sign_up(request: Request) -> Response:
    form = await _form(request)
    if form is None:
        return render(request, "developer/sign_up.html", status_code=403, developer=None, error=FORM_EXPIRED)
    name, email = str(form.get("name", "")), str(form.get("email", ""))
    try:
        await _service(request).sign_up(
            name, email, str(form.get("password", "")), str(form.get("password_confirm", "")), _client_ip(request)
        )
    except PanelError as exc:
        return render(request, "developer/sign_up.html", status_code=exc.status_code, developer=None, error=str(exc),
                      name=name, email=email)
    return _see_other(request, "/developer/sign-in?welcome=1")


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    form = await _form(request)
    if form is None:
        return error_page(403, FORM_EXPIRED)
    await _service(request).sign_out(request.cookies.get(SESSION_COOKIE))
    response = _see_other(request, "/developer/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


async def _applications_page(request: Request, developer: Developer, *, status_code=200, error=None, form=None):
    apps = await _service(request).applications(developer)
    return render(request, "developer/applications.html", status_code=status_code, developer=developer,
                  applications=apps, error=error, form=form or {})


@router.get("/applications")
async def applications(request: Request) -> Response:
    developer = await _signed_in(request)
    return await _applications_page(request, developer)


@router.post("/applications")
async def create_application(request: Request) -> Response:
    developer = await _signed_in(request)
    form = await _form(request)
    if form is None:
        return await _applications_page(request, developer, status_code=403, error=FORM_EXPIRED)
    values = {k: str(form.get(k, "")) for k in ("name", "environment", "redirect_urls")}
    try:
        app, secret, token = await _service(request).create_application(developer, **values)
    except PanelError as exc:
        return await _applications_page(request, developer, status_code=400, error=str(exc), form=values)
    return render(request, "developer/credentials.html", developer=developer, app=app, client_secret=secret,
                  access_token=token, heading=f"Application {app.name} created")


async def _application_page(request: Request, developer: Developer, app_id: int, *, status_code=200,
                            error=None, form=None, new_token=None, app=None):
    service = _service(request)
    app = app or await service.application(developer, app_id)
    tokens = await service.access_tokens(developer, app_id)
    return render(request, "developer/application.html", status_code=status_code, developer=developer, app=app,
                  tokens=tokens, error=error, form=form or {}, new_token=new_token,
                  base_path=Environment(app.environment).base_path,
                  try_it=try_it(developer, app, services(request).settings.base_url))


def _app_id(raw: str) -> int | None:
    """An id from the path: a 400 page unless ASCII digits; None (nothing of yours) past any id."""
    if not is_digits(raw):
        raise HTTPException(400, "An id in the address is written with the digits 0-9 only.")
    value = integer(raw.lstrip("0"), 10)
    return value if value is not None and value <= MAX_ID else None


async def _application_form(request: Request, app_id: str,
                            answer: Callable[[Developer, int, FormData], Awaitable[Response]]) -> Response:
    """A form sent from an application's page, answered by ``answer(developer, number, form)``;
    that page again (403) when the form has expired."""
    developer = await _signed_in(request)
    form = await _form(request)
    number = _app_id(app_id) or 0
    if form is None:
        return await _application_page(request, developer, number, status_code=403, error=FORM_EXPIRED)
    return await answer(developer, number, form)


@router.get("/applications/{app_id}")
async def application(request: Request, app_id: str) -> Response:
    developer = await _signed_in(request)
    return await _application_page(request, developer, _app_id(app_id) or 0)


@router.post("/applications/{app_id}/rotate-secret")
async def rotate_secret(request: Request, app_id: str) -> Response:
    developer = await _signed_in(request)
    if await _form(request) is None:
        return error_page(403, FORM_EXPIRED)
    app, secret = await _service(request).rotate_secret(developer, _app_id(app_id) or 0)
    return render(request, "developer/credentials.html", developer=developer, app=app, client_secret=secret,
                  heading=f"New client secret for {app.name}")


@router.post("/applications/{app_id}/tokens")
async def create_token(request: Request, app_id: str) -> Response:
    async def create(developer: Developer, number: int, form: FormData) -> Response:
        values = {k: str(form.get(k, "")) for k in ("name", "requests_per_minute", "max_page_size", "max_body_bytes")}
        try:
            profile = parse_profile(values["requests_per_minute"], values["max_page_size"], values["max_body_bytes"],
                                    [str(g) for g in form.getlist("api_groups")])
            _, token = await _service(request).create_access_token(developer, number, values["name"], profile)
        except PanelError as exc:
            return await _application_page(request, developer, number, status_code=400, error=str(exc), form=values)
        return await _application_page(request, developer, number, new_token=token)

    return await _application_form(request, app_id, create)


@router.post("/applications/{app_id}/tokens/{token_id}/revoke")
async def revoke_token(request: Request, app_id: str, token_id: str) -> Response:
    developer = await _signed_in(request)
    if await _form(request) is None:
        return error_page(403, FORM_EXPIRED)
    await _service(request).revoke_access_token(developer, _app_id(app_id) or 0, _app_id(token_id) or 0)
    return _see_other(request, f"/developer/applications/{app_id}")


@router.post("/applications/{app_id}/holder-profile")
async def holder_profile(request: Request, app_id: str) -> Response:
    async def update(developer: Developer, number: int, form: FormData) -> Response:
        try:
            await _service(request).update_holder_profile(
                developer, number, str(form.get("requests_per_minute", "")), str(form.get("max_page_size", ""))
            )
        except PanelError as exc:
            return await _application_page(request, developer, number, status_code=400, error=str(exc))
        return _see_other(request, f"/developer/applications/{app_id}")

    return await _application_form(request, app_id, update)


async def _edit_redirect_urls(request: Request, app_id: str, edit) -> Response:
    """Add, change or remove a redirect URL (``edit(service, developer, app, form)``); the page
    again with the sentence and what was typed when it is refused."""
    async def apply(developer: Developer, number: int, form: FormData) -> Response:
        try:
            await edit(_service(request), developer, number, form)
        except PanelError as exc:
            return await _application_page(request, developer, number, status_code=400, error=str(exc),
                                           form={"redirect_url": str(form.get("redirect_url", "")),
                                                 "old": str(form.get("old", ""))})
        return _see_other(request, f"/developer/applications/{number}#redirect-urls")

    return await _application_form(request, app_id, apply)


@router.post("/applications/{app_id}/redirect-urls")
async def add_redirect_url(request: Request, app_id: str) -> Response:
    return await _edit_redirect_urls(request, app_id, lambda service, developer, number, form: service.add_redirect_url(
        developer, number, str(form.get("redirect_url", ""))))


@router.post("/applications/{app_id}/redirect-urls/change")
async def change_redirect_url(request: Request, app_id: str) -> Response:
    return await _edit_redirect_urls(request, app_id, lambda service, developer, number, form: service.change_redirect_url(
        developer, number, str(form.get("old", "")), str(form.get("redirect_url", ""))))


@router.post("/applications/{app_id}/redirect-urls/remove")
async def remove_redirect_url(request: Request, app_id: str) -> Response:
    return await _edit_redirect_urls(request, app_id, lambda service, developer, number, form: service.remove_redirect_url(
        developer, number, str(form.get("redirect_url", ""))))


async def _token_page(request: Request, developer: Developer, app_id: str, token_id: str, *, status_code=200,
                      error=None, revealed=None) -> Response:
    app, token = await _service(request).access_token(developer, _app_id(app_id) or 0, _app_id(token_id) or 0)
    return render(request, "developer/token.html", status_code=status_code, developer=developer, app=app, token=token,
                  cannot_reveal=reveal_problem(app, token), error=error, revealed=revealed)


@router.get("/applications/{app_id}/tokens/{token_id}")
async def token_details(request: Request, app_id: str, token_id: str) -> Response:
    developer = await _signed_in(request)
    return await _token_page(request, developer, app_id, token_id)


@router.post("/applications/{app_id}/tokens/{token_id}/reveal")
async def reveal_token(request: Request, app_id: str, token_id: str) -> Response:
    """A sandbox Access-Token shown again: a form whose only field is the developer's password."""
    developer = await _signed_in(request)
    form = await _form(request)
    if form is None:
        return await _token_page(request, developer, app_id, token_id, status_code=403, error=FORM_EXPIRED)
    try:
        token = await _service(request).reveal_access_token(
            developer, _app_id(app_id) or 0, _app_id(token_id) or 0, str(form.get("password", "")))
    except PanelError as exc:
        return await _token_page(request, developer, app_id, token_id, status_code=exc.status_code, error=str(exc))
    return await _token_page(request, developer, app_id, token_id, revealed=token)
