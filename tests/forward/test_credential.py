"""The forward proxy's credential: Basic proxy auth, and the URL handed to the child."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from ccproxy.forward.credential import ProxyCredential, parse_basic


def test_generated_credentials_differ_and_accept_only_themselves() -> None:
    a, b = ProxyCredential.generate(), ProxyCredential.generate()
    assert a != b and len(a.password) >= 24
    assert a.accepts(a.header()) and not a.accepts(b.header())
    assert not a.accepts(None) and not a.accepts("") and not a.accepts("Bearer " + a.password)


def test_url_percent_encodes_the_user_info() -> None:
    cred = ProxyCredential("ccproxy", "a/b:c@d")
    assert cred.url("127.0.0.1", 4080) == "http://ccproxy:a%2Fb%3Ac%40d@127.0.0.1:4080"


def test_parse_basic_rejects_garbage() -> None:
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert parse_basic("basic " + base64.b64encode(b"u:p:q").decode()) == ("u", "p:q")


@given(st.text(min_size=1).filter(lambda s: ":" not in s), st.text())
def test_any_user_and_password_round_trip(user: str, password: str) -> None:
    cred = ProxyCredential(user, password)
    assert parse_basic(cred.header()) == (user, password)
    assert cred.accepts(cred.header())
