"""The sandbox's callback page (``promo/sandbox/callback.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.promo.environments import Environment
from cielo.promo.sandbox.callback import CALLBACK_PATH, card_commands, exchange_commands
from cielo.services import services
from cielo.web.pages import render
from cielo.web.routing import LeanRoute

router = APIRouter(route_class=LeanRoute, include_in_schema=False)


@router.get(CALLBACK_PATH)
async def callback(request: Request) -> Response:
    found = services(request)
    base_url = found.settings.base_url
    query = request.query_params
    code, card_id, error = query.get("code"), query.get("card_id"), query.get("error")
    commands = facts = None
    if code:
        facts = await found.oauth.code_facts(Environment.SANDBOX, code)
        commands = exchange_commands(base_url, code, facts) if facts else None
    elif card_id and card_id.isdigit():
        commands = card_commands(base_url, card_id)
    return render(request, "promo/sandbox_callback.html", code=code, facts=facts, card_id=card_id, error=error,
                  error_description=query.get("error_description"), state=query.get("state"), commands=commands,
                  api=base_url + Environment.SANDBOX.base_path)
