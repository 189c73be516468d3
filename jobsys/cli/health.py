"""``jobsys health api|worker|beat|flower`` (in ``jobsys.cluster.health_cli``)."""

from jobsys.cluster.health_cli import app

__all__ = ["app"]
