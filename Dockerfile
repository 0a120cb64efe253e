# One image for every qaloop service: `docker run IMAGE run audit|feedback|complaints|reporting`.
# docker-compose.yml and deploy/k8s/ use it with different commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango and a font for WeasyPrint, which renders the quarterly report as PDF.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# The locked dependencies first, in their own layer: they change far less often than the code.
# (requirements.lock is `uv pip compile … --extra dev`; every package in it ships wheels.)
COPY requirements.lock /tmp/requirements.lock
RUN pip install -r /tmp/requirements.lock && rm /tmp/requirements.lock

# Then qaloop itself, without touching the locked set. .dockerignore lets in only
# pyproject.toml, README.md, shared/ and services/.
COPY . /tmp/qaloop-src
RUN pip install --no-deps /tmp/qaloop-src && rm -rf /tmp/qaloop-src

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app qaloop \
    && mkdir -p /app && chown qaloop:qaloop /app
WORKDIR /app
USER 10001:10001

# reporting 8000, audit 8001, feedback 8002, complaints 8003 (CONTRACT.md); set QALOOP_HOST=0.0.0.0.
EXPOSE 8000 8001 8002 8003
ENTRYPOINT ["qaloop"]
CMD ["--help"]
