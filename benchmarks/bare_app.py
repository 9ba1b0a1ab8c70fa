"""The baselines: bare FastAPI endpoints returning a constant JSON object, no database, no auth.

``/bare`` is the everyday idiom (return a dict); ``/bare-response`` returns a prebuilt
Response, the cheapest thing FastAPI can do, as a stricter reference.
"""

from fastapi import FastAPI
from starlette.responses import Response

app = FastAPI()
_CUSTOMER = {"canvas_space_name": "cielo24-test", "api_key": "k", "api_secret": "s", "is_active": True,
             "customer_name": "Canvas"}
_BODY = b'{"customers":[{"canvas_space_name":"cielo24-test","api_key":"k","api_secret":"s","is_active":true,"customer_name":"Canvas"}]}'


@app.get("/bare")
async def bare() -> dict:
    return {"customers": [_CUSTOMER]}


@app.get("/bare-response")
async def bare_response() -> Response:
    return Response(_BODY, media_type="application/json")
