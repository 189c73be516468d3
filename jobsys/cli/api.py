"""``jobsys api``: serve the REST API; ``jobsys api hash-token`` for the settings.

FastAPI and uvicorn (the ``api`` extra) are imported only when the server starts.
"""

from __future__ import annotations

import getpass
import sys

import typer

from jobsys.errors import ConfigError, InputError
from jobsys.settings import load_settings

app = typer.Typer(
    help="Serve the REST API (FastAPI; OpenAPI at /docs).",
    invoke_without_command=True,
)


@app.callback()
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to listen on [JOBSYS_API_HOST]."),
    port: int | None = typer.Option(
        None, min=1, max=65535, help="Port to listen on [JOBSYS_API_PORT]."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Start the API server (bearer tokens from JOBSYS_API_TOKENS)."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        import uvicorn

        from jobsys.api import create_api
    except ImportError as exc:
        raise ConfigError(
            f"the REST API needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'jobsys[api]'"
        ) from exc
    settings = load_settings()
    api = create_api(settings)
    uvicorn.run(
        api,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=log_level,
        server_header=False,
    )


@app.command("hash-token")
def hash_token_cmd(
    token: str | None = typer.Argument(
        None, help="The token. Omit it (or give -) to read it from stdin, out of shell history."
    ),
) -> None:
    """Print the SHA-256 of a token: put `<read|admin>:<hash>[:<name>]` in JOBSYS_API_TOKENS."""
    from jobsys.api.auth import hash_token

    if token not in (None, "-"):
        value = token
    elif sys.stdin.isatty():
        value = getpass.getpass("token: ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InputError("cli", "TOKEN", "the token is empty")
    typer.echo(hash_token(value))
