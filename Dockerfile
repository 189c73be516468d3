# One image for every jobsys service of compose.yaml: `docker compose build`.
# The command is a jobsys sub-command: `docker run jobsys worker --group media`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JOBSYS_HOME=/var/lib/jobsys

WORKDIR /app
COPY pyproject.toml README.md ./
COPY jobsys ./jobsys
COPY tasks ./tasks
COPY config ./config
RUN pip install ".[media,speech,data,api,flower]"

# Not root: the services only write under JOBSYS_HOME (a volume in compose.yaml).
RUN useradd --system --uid 10001 --home-dir /var/lib/jobsys --create-home jobsys
USER jobsys

ENTRYPOINT ["jobsys"]
CMD ["--help"]
