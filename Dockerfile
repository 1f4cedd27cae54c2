# Watchkeeper's container image: `podman build -t watchkeeper .` (or docker build).
#
# BASE: any Debian-based image with Python >= 3.11 and its venv module; the default is the
# usual public one. PIP_OPTIONS: extra pip arguments, e.g. "--no-index --find-links /src/.wheels"
# to install from a wheelhouse put in the build context (the test suite does that offline).
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ARG PIP_OPTIONS=""
WORKDIR /src
COPY . .
RUN python3 -m venv /opt/watchkeeper \
    && /opt/watchkeeper/bin/pip install --no-cache-dir --disable-pip-version-check $PIP_OPTIONS . \
    && /opt/watchkeeper/bin/pip uninstall -y -q pip

FROM ${BASE}
LABEL org.opencontainers.image.title="Watchkeeper" \
      org.opencontainers.image.description="Self-hosted monitoring and AIOps" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 watchkeeper \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin watchkeeper \
    && mkdir -p /data && chown watchkeeper:watchkeeper /data && chmod 700 /data
COPY --from=build /opt/watchkeeper /opt/watchkeeper
COPY deploy/docker/entrypoint.sh /usr/local/bin/watchkeeper-entrypoint
ENV PATH=/opt/watchkeeper/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WATCHKEEPER_DATA_DIR=/data \
    WATCHKEEPER_SERVER__HOST=0.0.0.0 \
    WATCHKEEPER_SERVER__PORT=8000
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; port = os.environ.get('WATCHKEEPER_SERVER__PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/health/live', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["watchkeeper-entrypoint"]
CMD ["serve"]
