# One image for every qaloop service: `docker run IMAGE run audit|feedback|complaints|workforce|reporting|notifier`.
# docker-compose.yml and deploy/k8s/ use it with different commands.
# The base image is pinned by digest: the multi-platform index of `python:3.11-slim-bookworm`
# (Python 3.11.16, built 2026-08-25) as published in docker-library/repo-info
# (repos/python/remote/3.11-slim-bookworm.md). Bump tag and digest together.
FROM python:3.11-slim-bookworm@sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango and a font for WeasyPrint, which renders the quarterly report as PDF.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# The production dependencies only, first, in their own layer: they change far less often than
# the code. requirements.prod.lock is pyproject's runtime dependencies compiled with hashes
# (`uv pip compile pyproject.toml --generate-hashes -c requirements.lock …`, its header says
# the exact command), so pip verifies every file (--require-hashes) and installs no tooling
# (requirements.lock, with the dev extra, is for the development venv and CI).
# Wheels only, but for docopt: notifications-python-client (the notifier's GOV.UK Notify channel)
# still requires it, and it is published as a source archive alone (hash-checked all the same).
COPY requirements.prod.lock /tmp/requirements.prod.lock
RUN pip install --require-hashes --only-binary=:all: --no-binary=docopt -r /tmp/requirements.prod.lock && rm /tmp/requirements.prod.lock

# Then qaloop itself, without touching the locked set. .dockerignore lets in only
# pyproject.toml, README.md, shared/ and services/.
COPY . /tmp/qaloop-src
RUN pip install --no-deps /tmp/qaloop-src && rm -rf /tmp/qaloop-src

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app qaloop \
    && mkdir -p /app && chown qaloop:qaloop /app
WORKDIR /app
USER 10001:10001

# reporting 8000, audit 8001, feedback 8002, complaints 8003 (CONTRACT.md), workforce 8004,
# notifier 8005; set QALOOP_HOST=0.0.0.0.
EXPOSE 8000 8001 8002 8003 8004 8005
ENTRYPOINT ["qaloop"]
CMD ["--help"]
