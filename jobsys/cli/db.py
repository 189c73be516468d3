"""``jobsys db upgrade``: apply the store's migrations (Alembic)."""

from __future__ import annotations

import typer

from jobsys.settings import load_settings
from jobsys.store.session import display_url, make_engine, upgrade

app = typer.Typer(help="The store's schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or upgrade the jobsys tables in JOBSYS_DATABASE_URL."""
    settings = load_settings()
    engine = make_engine(settings)
    upgrade(engine, settings, revision)
    typer.echo(f"store at {display_url(settings.effective_database_url)} is at {revision}")
