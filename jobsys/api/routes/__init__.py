"""The /v1 routers; each route is a thin call of ``jobsys.client.Client``."""
