"""query_of (http.py): the query parameters split by hand where no escape appears, exactly what
Starlette's QueryParams answers for every name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.requests import Request

from cielo.web.http import query_of

# names and values from the characters that change parsing: separators, escapes, blanks, non-ASCII
_PIECES = st.text(alphabet=st.sampled_from(list("ab_=&;%+2F0é ~.-")), max_size=8)


def _request(raw: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": raw, "headers": []})


@given(st.lists(st.tuples(_PIECES, st.booleans(), _PIECES), max_size=8))
@hypothesis_settings(max_examples=500, deadline=None)
def test_every_name_answers_what_starlette_answers(parts):
    raw = "&".join(name + ("=" + value if with_value else "") for name, with_value, value in parts)
    raw_bytes = raw.encode("utf-8")
    expected = _request(raw_bytes).query_params
    found = query_of(_request(raw_bytes))
    assert sorted(found.keys()) == sorted(expected.keys())
    for name in expected:
        assert found.get(name) == expected.get(name) and found[name] == expected[name]
    assert found.get("absent") is None


def test_a_plain_query_is_split_here_and_an_escaped_one_left_to_starlette():
    plain = query_of(_request(b"latitude=-23.5&longitude=-46.6&radius=2000&radius=500&active&&_limit="))
    assert type(plain) is dict
    assert plain == {"latitude": "-23.5", "longitude": "-46.6", "radius": "500", "active": "", "_limit": ""}
    escaped = query_of(_request(b"type=G%2CP&title=a+b"))
    assert escaped["type"] == "G,P" and escaped["title"] == "a b"
