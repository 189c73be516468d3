"""HTTP callbacks go only where ``callback_allowed_hosts`` allows (no SSRF), checked when a
manifest is applied, when a run starts and just before each POST."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobsys.client import Client
from jobsys.errors import ConfigError, DefinitionError
from jobsys.settings import Settings
from jobsys.workflows.callback_hosts import HostPolicy, display_url


def policy(*entries: str, dns: dict[str, list[str]] | None = None) -> HostPolicy:
    table = dns or {}

    def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return table[host]

    return HostPolicy(entries, resolve=resolve)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hook", "host 127.0.0.1 is a loopback address"),
        ("http://[::1]/hook", "host ::1 is a loopback address"),
        ("http://localhost/hook", "host localhost is a loopback name"),
        ("http://169.254.169.254/latest/meta-data", "a link-local address"),
        ("http://10.0.0.5/hook", "host 10.0.0.5 is a private address"),
        ("http://0.0.0.0/hook", "0.0.0.0 is a "),
        ("https://hook:hunter22@hooks.example.com/x", "https://hook:***@hooks.example.com/x"),
    ],
)
def test_with_no_entries_only_public_hosts_are_allowed(url: str, why: str) -> None:
    refusal = policy().refusal(url)
    assert refusal is not None and why in refusal
    assert "hunter22" not in refusal


def test_a_public_name_passes_and_is_checked_again_by_its_addresses() -> None:
    hosts = policy(dns={"hooks.example.com": ["93.184.216.34"], "sneaky.example": ["127.0.0.1"]})
    assert hosts.refusal("https://hooks.example.com/x") is None
    assert hosts.refusal_now("https://hooks.example.com/x") is None
    assert hosts.refusal("http://sneaky.example/x") is None  # no DNS when applying
    assert hosts.refusal_now("http://sneaky.example/x") == (
        "host sneaky.example resolves to 127.0.0.1, a loopback address; "
        "allow it with JOBSYS_CALLBACK_ALLOWED_HOSTS"
    )
    assert "does not resolve" in str(hosts.refusal_now("http://nowhere.invalid/x"))


def test_entries_allow_names_wildcards_and_networks_and_nothing_else() -> None:
    hosts = policy(
        "hooks.example.com",
        "*.corp.example",
        "10.1.0.0/16",
        dns={"build.internal": ["10.1.2.3"], "db.internal": ["10.2.0.1"]},
    )
    for url in (
        "https://hooks.example.com/x",
        "https://ci.corp.example/x",
        "http://10.1.9.9:8080/x",
        "http://build.internal/x",
    ):
        assert hosts.refusal_now(url) is None, url
    assert hosts.refusal("https://example.org/x") is None  # a name: its addresses decide
    assert "not in JOBSYS_CALLBACK_ALLOWED_HOSTS" in str(hosts.refusal_now("http://db.internal/"))
    assert hosts.refusal("http://10.2.0.1/x") == "host 10.2.0.1 is not in " + (
        "JOBSYS_CALLBACK_ALLOWED_HOSTS"
    )
    names_only = policy("hooks.example.com")
    assert names_only.refusal("https://evil.example/x") == (
        "host evil.example is not in JOBSYS_CALLBACK_ALLOWED_HOSTS"
    )
    assert names_only.refusal("https://hooks.example.com.evil.example/x") is not None


def test_an_explicit_entry_allows_loopback_and_star_allows_anything() -> None:
    assert policy("127.0.0.1").refusal_now("http://127.0.0.1:9/x") is None
    assert policy("*").refusal_now("http://169.254.169.254/") is None


@pytest.mark.parametrize("entry", ["http://hooks.example.com", "10.0.0.0/33", "a b", ""])
def test_a_bad_entry_is_a_config_error_naming_the_setting(entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        HostPolicy([entry])
    assert caught.value.setting == "JOBSYS_CALLBACK_ALLOWED_HOSTS"


def test_a_password_is_masked_in_urls_shown() -> None:
    assert display_url("https://u:p4ss@h.example/x?q=1") == "https://u:***@h.example/x?q=1"
    assert display_url("https://h.example/x") == "https://h.example/x"


def manifest(url: str) -> str:
    return f"""apiVersion: jobsys/v1
kind: Job
metadata: {{name: hooked}}
callbacks:
  onSuccess:
    - url: {url}
steps:
  - {{name: only, type: demo.echo, with: {{message: hi}}}}
"""


def test_apply_refuses_a_callback_to_a_refused_host_naming_file_line_and_field(
    tmp_path: Path,
) -> None:
    with Client(Settings(home=tmp_path / "home")) as client:
        report = client.apply(text=manifest("http://169.254.169.254/latest"))
        (change,) = report.changes
        assert change.action.value == "invalid"
        (problem,) = change.problems
        assert str(problem).startswith("<stdin>:6:")
        assert problem.rule == "callback-url" and "link-local address" in problem.message
        assert client.templates() == []


def test_a_run_is_refused_when_the_setting_no_longer_allows_its_callback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Client(Settings(home=home, callback_allowed_hosts=["127.0.0.1"])) as client:
        assert client.apply(text=manifest("http://127.0.0.1:9/hook")).ok
    with Client(Settings(home=home)) as client:
        with pytest.raises(DefinitionError) as caught:
            client.run_template("hooked")
        assert str(caught.value) == (
            "template hooked: callbacks.onSuccess.0.url: host 127.0.0.1 is a loopback address; "
            "allow it with JOBSYS_CALLBACK_ALLOWED_HOSTS"
        )
        assert client.jobs() == []
