"""How the Promotions API describes itself in /openapi.json: its security schemes, its two
error shapes, the headers its answers carry, and the parameters its routes share.

The routes parse their requests themselves (``LeanRoute``), so what FastAPI cannot read from
their signatures is declared here once and given to each route's decorator: ``responses=`` for
answers (a model per status) and ``openapi_extra=`` for parameters and security."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cielo.web.openapi import header, parameter

# ---- security ---------------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ClientId": {"type": "apiKey", "in": "header", "name": "Client-Id",
                 "description": "The application's Client ID, from the developer panel (also accepted as `client_id`)."},
    "AccessToken": {"type": "apiKey", "in": "header", "name": "Access-Token",
                    "description": "A partner call: the application's Access-Token from the developer panel. "
                                   "A holder call (`/me…`): the holder's access_token from `/access-token`."},
    "ClientBasic": {"type": "http", "scheme": "basic",
                    "description": "The application's client_id and client_secret, as `Basic base64(client_id:client_secret)`. "
                                   "The seed's other wordings are taken too: that base64 without `Basic `, and the "
                                   "base64 of client_id immediately followed by client_secret, with or without "
                                   "`Basic `. The client_id must be the `Client-Id` header's; any other value, or a "
                                   "wrong secret, is a 401."},
}
Requirement = list[dict[str, list[str]]]
PARTNER: Requirement = [{"ClientId": [], "AccessToken": []}]
HOLDER = PARTNER
CLIENT: Requirement = [{"ClientId": [], "ClientBasic": []}]
NONE: Requirement = []

# ---- the two error shapes -----------------------------------------------------------------------


class ErrorObject(BaseModel):
    """The error of a 412, 422 or 500: a stable code and a sentence."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$", examples=["MISSING_PARAMETER"],
                      description="Stable, for programs.")
    description: str = Field(min_length=1, examples=["The '_limit' query parameter is mandatory."],
                             description="A sentence, for people.")


_ERROR_STRING = {"type": "string", "minLength": 1, "description": "A sentence saying what was wrong."}
_SENTENCES = {
    400: "A parameter or body field is present but not valid: empty (or null in a body) included.",
    401: "A credential is missing, unknown or expired; or a token of the other kind (a holder's on a partner route, "
         "an application's on a holder route), or sent as `Authorization: Bearer` instead of `Access-Token`: the "
         "sentence says what the route takes.",
    403: "The credential may not do this: another environment, client or tenant, or outside its access profile.",
    404: "Nothing has that id (or it belongs to another holder or application).",
    405: "The path does not take this method.",
    413: "The body, or the page asked for, is larger than the access profile allows.",
    415: "The body is not sent as application/json.",
    422: "A mandatory parameter or body field is absent.",
    429: "The access profile's requests per minute were used up.",
    500: "An unexpected failure; nothing was changed.",
    502: "The service could not reach its database; nothing was changed. Retry shortly.",
}
_EXAMPLES = {
    400: "The 'radius' parameter must be between 1 and 50000 meters.",
    401: "The 'Client-Id' header is missing.",
    403: "This Client-Id belongs to the production environment, not to sandbox.",
    404: "There is no card 7 among this holder's cards.",
    405: "The PUT method is not allowed on this endpoint.",
    413: "The '_limit' parameter (500) is above the maximum page size of 100 of this token's access profile.",
    415: "The request body must be JSON (Content-Type: application/json).",
    429: "The limit of 120 requests per minute of this token's access profile was reached; retry in 12 seconds.",
    502: "The service cannot reach its database right now; nothing was changed. Retry in a few seconds.",
}
_OBJECT_EXAMPLES = {
    422: {"code": "MISSING_PARAMETER", "description": "The '_offset' query parameter is mandatory."},
    500: {"code": "INTERNAL_ERROR", "description": "An unexpected error occurred; please try again later."},
}

RATE_HEADERS = {
    "RateLimit-Limit": header("Requests per minute of the caller's access profile.", {"type": "integer"}),
    "RateLimit-Remaining": header("Requests left in the current window.", {"type": "integer"}),
    "RateLimit-Reset": header("Seconds until the window frees a request.", {"type": "integer"}),
}
LIST_HEADERS = {
    "X-Total-Count": header("How many items match, over every page.", {"type": "integer", "minimum": 0}),
    "Link": header("RFC 8288 links to the next and previous pages (rel=\"next\", rel=\"prev\"), when there are any.",
                   {"type": "string"}),
}


def error(status: int, description: str | None = None, example: str | None = None) -> dict[str, Any]:
    """The documented answer of one error status (a route's own sentence and example, if given)."""
    answer: dict[str, Any] = {"description": description or _SENTENCES[status]}
    if status in _OBJECT_EXAMPLES:
        answer["model"] = ErrorObject
        answer["content"] = {"application/json": {"example": _OBJECT_EXAMPLES[status]}}
    else:
        answer["content"] = {"application/json": {"schema": _ERROR_STRING, "example": example or _EXAMPLES[status]}}
    if status == 429:
        answer["headers"] = {**RATE_HEADERS, "Retry-After": header("Seconds to wait before retrying.", {"type": "integer"})}
    return answer


# the lists the seed gives no paging parameters (API.md §2): whole unless paged, never cut
UNPAGED_TOO_LARGE = error(
    413, "Without `_limit`, the list has more matches than the access profile's maximum page size: page through it "
         "with `_offset` and `_limit`. Or a `_limit` above that size.",
    "This list has 150 matches, more than the maximum page size of 100 of this token's access profile; page through "
    "it with the '_offset' and '_limit' parameters.")

PARTNER_ERRORS = (400, 401, 403, 404, 405, 413, 422, 429, 500, 502)
BODY_ERRORS = (*PARTNER_ERRORS, 415)


def answers(success: dict[int | str, dict[str, Any]],
            errors: tuple[int, ...] = PARTNER_ERRORS) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: its successes as given, then each error status."""
    documented: dict[int | str, dict[str, Any]] = dict(success)
    for status in errors:
        documented.setdefault(status, error(status))
    return documented


def page_or_error(status: int, page: str) -> dict[str, Any]:
    """An error that a browser (``Accept`` ranking ``text/html`` first) is shown as an HTML page."""
    answer = error(status)
    return {**answer, "description": f"{answer['description']} {page}",
            "content": {**answer["content"], "text/html": {"schema": {"type": "string"}}}}


# /login's and /cards' 400 (API.md §3.1)
REDIRECT_REFUSED = page_or_error(400, "To a browser, an unregistered `redirect_url` is an HTML page naming it and "
                                      "saying where redirect URLs are registered.")


CPF_PATTERN = r"^([0-9]{11}|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2})$"
CNPJ_PATTERN = r"^([0-9]{14}|[0-9]{2}\.[0-9]{3}\.[0-9]{3}/[0-9]{4}-[0-9]{2})$"


def ok(model: Any, description: str, *, listed: bool = False, example: Any = None,
       headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success answer carrying ``model`` (a list when ``listed``) with the rate headers."""
    answer: dict[str, Any] = {"model": model, "description": description,
                              "headers": {**RATE_HEADERS, **(LIST_HEADERS if listed else {}), **(headers or {})}}
    if example is not None:
        answer["content"] = {"application/json": {"example": example}}
    return answer


# ---- parameters -------------------------------------------------------------------------------

def offset(required: bool) -> dict[str, Any]:
    return parameter("_offset", "query", "How many items to skip." + ("" if required else " Optional on this list (0)."),
                     {"type": "integer", "minimum": 0, "maximum": 10_000_000}, required=required, example=0)


def limit(required: bool) -> dict[str, Any]:
    return parameter("_limit", "query",
                     "Items per page, at most the access profile's maximum page size (above it: 413)."
                     + ("" if required else " Without it the list holds every match from `_offset` on, and answers "
                                            "413 when they are more than that size."),
                     {"type": "integer", "minimum": 1}, required=required, example=10)


def path_id(name: str, what: str) -> dict[str, Any]:
    return parameter(name, "path", f"The {what}'s id.", {"type": "integer", "minimum": 1, "maximum": 2_147_483_647},
                     required=True, example=1)


EXPAND = parameter("_expand", "query", "`partners` adds each card's partners.", {"type": "string", "enum": ["partners"]})


def operation(security: Requirement, *parameters: dict[str, Any], body: Any = None,
              body_example: Any = None) -> dict[str, Any]:
    """``openapi_extra=`` for a route: its security, parameters and JSON body."""
    extra: dict[str, Any] = {"security": security}
    if parameters:
        extra["parameters"] = list(parameters)
    if body is not None:
        content: dict[str, Any] = {"schema": body.model_json_schema(ref_template="#/components/schemas/{model}")}
        if body_example is not None:
            content["example"] = body_example
        extra["requestBody"] = {"required": True, "content": {"application/json": content}}
    return extra
