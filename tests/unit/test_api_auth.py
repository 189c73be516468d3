"""Scoped bearer tokens: hashing, the ``api_tokens`` setting, and who may do what."""

from __future__ import annotations

import hashlib

import pytest

from jobsys.api.auth import ApiToken, TokenBook, hash_token, parse_entry
from jobsys.errors import ConfigError, Forbidden, Unauthorized
from jobsys.settings import load_settings

ADMIN, READER = "admin-secret-1", "reader-secret-2"


def book() -> TokenBook:
    return TokenBook([f"admin:{hash_token(ADMIN)}:ci", f"read:{hash_token(READER)}"])


def test_a_token_is_kept_as_its_sha256_hex() -> None:
    assert hash_token("abc") == (  # FIPS 180-2, example 1
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert hash_token(ADMIN) == hashlib.sha256(ADMIN.encode()).hexdigest()


def test_an_entry_gives_scope_digest_and_name() -> None:
    digest = hash_token(ADMIN)
    assert parse_entry(f"admin:{digest}:ci") == ApiToken("admin", digest, "ci")
    assert parse_entry(f"read:{digest}", 3) == ApiToken("read", digest, "token-3")


@pytest.mark.parametrize(
    "entry",
    [
        "admin",  # no digest
        f"write:{'a' * 64}",  # no such scope
        "admin:not-a-hash",
        f"admin:{'A' * 64}",  # upper-case hex is not what hash-token prints
        f"read:{'a' * 63}",
        "admin:my-clear-token:ci",  # a token pasted in clear
    ],
)
def test_a_malformed_entry_is_a_config_error_naming_the_setting(entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_entry(entry)
    assert caught.value.setting == "JOBSYS_API_TOKENS"


def test_the_setting_takes_a_json_list_and_refuses_bad_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = f'["admin:{hash_token(ADMIN)}:ci", "read:{hash_token(READER)}"]'
    monkeypatch.setenv("JOBSYS_API_TOKENS", good)
    assert TokenBook(load_settings().api_tokens).authenticate(READER).scope == "read"

    monkeypatch.setenv("JOBSYS_API_TOKENS", '["admin:hunter2"]')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == "JOBSYS_API_TOKENS"
    assert "entry 0" in str(caught.value) and "hash-token" in str(caught.value)
    assert "hunter2" not in str(caught.value), "a token pasted in clear is not echoed"


def test_with_no_tokens_configured_every_request_is_refused() -> None:
    with pytest.raises(Unauthorized, match="no API tokens are configured"):
        TokenBook([]).authorize(ADMIN, "GET")


@pytest.mark.parametrize(("token", "why"), [(None, "missing"), ("", "missing"), ("x", "invalid")])
def test_a_missing_or_unknown_token_is_unauthorized(token: str | None, why: str) -> None:
    with pytest.raises(Unauthorized, match=why):
        book().authorize(token, "GET")


@pytest.mark.parametrize(
    ("token", "method", "allowed"),
    [
        (READER, "GET", True),
        (READER, "HEAD", True),
        (READER, "POST", False),
        (READER, "DELETE", False),
        (ADMIN, "GET", True),
        (ADMIN, "POST", True),
    ],
)
def test_read_may_only_read_and_admin_may_do_everything(
    token: str, method: str, allowed: bool
) -> None:
    if allowed:
        assert book().authorize(token, method).digest == hash_token(token)
    else:
        with pytest.raises(Forbidden, match="needs admin"):
            book().authorize(token, method)


def test_the_token_itself_is_not_kept() -> None:
    tokens = book().tokens
    assert all(ADMIN not in repr(t) and READER not in repr(t) for t in tokens)
