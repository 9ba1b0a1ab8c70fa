"""Wire format of the white-label API, and the parsing that turns any bad body into one
clear sentence (API.md §1).

Pydantic does the type, length and unknown-key checks; :func:`_sentence` turns its first
error into the API's wording. The contract's own texts for a missing space name or missing
keys are checked first, because they take precedence over every other complaint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from cielo.text import has_control
from cielo.whitelabel.errors import MISSING_KEYS, MISSING_NAME, WhiteLabelError

NAME_MAX = 255
SECRET_MAX = 1024


def _printable(value: str) -> str:
    if has_control(value):
        raise ValueError("control")
    return value


def _trimmed(value: str) -> str:
    if value != value.strip():
        raise ValueError("whitespace")
    return value


Text255 = Annotated[StrictStr, Field(min_length=1, max_length=NAME_MAX), AfterValidator(_printable)]
SpaceName = Annotated[Text255, AfterValidator(_trimmed)]
_SPACE_NAME = TypeAdapter(SpaceName)


def storable_name(value: str) -> bool:
    """Whether a space name could have been integrated: what SpaceName accepts."""
    try:
        _SPACE_NAME.validate_python(value)
    except ValidationError:
        return False
    return True
Secret = Annotated[StrictStr, Field(min_length=1, max_length=SECRET_MAX), AfterValidator(_printable)]


class Customer(BaseModel):
    """An integrated customer: exactly these five fields."""

    canvas_space_name: str
    api_key: str
    api_secret: str
    is_active: bool
    customer_name: str


class NewCustomerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    canvas_space_name: SpaceName
    api_key: Text255
    api_secret: Secret
    is_active: StrictBool = True
    customer_name: Text255 = "Canvas"


class ModifyCustomerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    canvas_space_name: SpaceName
    api_key: Text255 | None = None
    api_secret: Secret | None = None
    is_active: StrictBool | None = None
    customer_name: Text255 | None = None


class DeleteCustomerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    canvas_space_name: SpaceName


class CustomersEnvelope(BaseModel):
    customers: list[Customer]


class NewCustomerEnvelope(BaseModel):
    new_customer: Customer


class ModifiedCustomerEnvelope(BaseModel):
    modified_customer: Customer


class DeletedCustomerEnvelope(BaseModel):
    deleted_customer: Customer


class ErrorBody(BaseModel):
    error: str


class DetailBody(BaseModel):
    detail: str


_LIMITS = {"api_secret": SECRET_MAX}


def _sentence(error: Mapping[str, Any]) -> str:
    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else "body"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"Request body has the unknown key '{field}'."
    if kind in ("bool_type", "bool_parsing"):
        return f"The '{field}' value must be true or false."
    if kind == "string_type":
        return f"The '{field}' value must be a string."
    if kind == "string_too_short":
        return f"The '{field}' value must not be empty."
    if kind == "string_too_long":
        return f"The '{field}' value must be at most {_LIMITS.get(field, NAME_MAX)} characters long."
    if kind == "value_error":
        if "whitespace" in error.get("msg", ""):
            return f"The '{field}' value must not start or end with spaces."
        return f"The '{field}' value must not contain control characters."
    return f"The '{field}' value is not valid."


def parse_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    if not raw.strip():
        raise WhiteLabelError("Request body must be a JSON object; it is empty.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise WhiteLabelError("Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise WhiteLabelError("Request body must be a JSON object.")
    return body


def _require_name(body: dict[str, Any]) -> None:
    if body.get("canvas_space_name") in (None, ""):
        raise WhiteLabelError(MISSING_NAME)


def _validate(model: type[BaseModel], body: dict[str, Any]):
    unknown = sorted(set(body) - set(model.model_fields))
    if unknown:
        keys = ", ".join(f"'{k}'" for k in unknown)
        noun = "key" if len(unknown) == 1 else "keys"
        raise WhiteLabelError(f"Request body has the unknown {noun} {keys}.")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise WhiteLabelError(_sentence(exc.errors()[0])) from None


def parse_new(raw: bytes) -> NewCustomerRequest:
    body = parse_object(raw)
    _require_name(body)
    if body.get("api_key") is None or body.get("api_secret") is None:
        raise WhiteLabelError(MISSING_KEYS)
    return _validate(NewCustomerRequest, body)


def parse_changes(raw: bytes) -> ModifyCustomerRequest:
    body = parse_object(raw)
    _require_name(body)
    for key in ("api_key", "api_secret", "is_active", "customer_name"):
        if key in body and body[key] is None:
            raise WhiteLabelError(f"The '{key}' value must not be null; leave the key out to keep it unchanged.")
    return _validate(ModifyCustomerRequest, body)


def parse_delete(raw: bytes) -> DeleteCustomerRequest:
    body = parse_object(raw)
    _require_name(body)
    return _validate(DeleteCustomerRequest, body)
