# comicsrv in the linuxserver.io manner: PUID/PGID/UMASK/TZ honoured,
# /config for the data directory, /comics and /downloads for media.
#
#   docker build -t comicsrv .
#   docker run -d -p 8090:8090 -e PUID=1000 -e PGID=1000 -e TZ=Europe/Berlin \
#     -v /srv/comicsrv:/config -v /srv/comics:/comics -v /srv/downloads:/downloads comicsrv
#
# docker/docker-compose.yml and docker/unraid/comicsrv.xml (unRAID's
# template, PUID 99 / PGID 100) run the same image.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PUID=1000 \
    PGID=1000 \
    UMASK=022 \
    TZ=Etc/UTC \
    COMICSRV_DATA_DIR=/config \
    COMICSRV_HOST=0.0.0.0 \
    COMICSRV_PORT=8090

# System packages: the RAR tools (scripts/system-packages), tini as PID 1
# (reaps the archive tools' and workers' processes, forwards SIGTERM), and
# pg_dump/pg_restore for backups of a PostgreSQL database.
COPY scripts/system-packages /tmp/system-packages
RUN apt-get update \
    && grep -v '^#' /tmp/system-packages \
       | xargs apt-get install -y --no-install-recommends tzdata tini postgresql-client \
    && rm -rf /var/lib/apt/lists/* /tmp/system-packages

WORKDIR /app
# The dependencies first, from setup.cfg alone: this layer is rebuilt only
# when they change, not on every change of the source.
COPY setup.cfg docker/requirements.py /app/
RUN python /app/requirements.py /app/setup.cfg postgres > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . /app
RUN pip install --no-cache-dir --no-deps /app \
    && rm -rf /app/build /app/*.egg-info \
    && install -m 0755 /app/docker/entrypoint.sh /usr/local/bin/comicsrv-entrypoint \
    && mkdir -p /config /comics /downloads

VOLUME ["/config", "/comics", "/downloads"]
EXPOSE 8090
# `comicsrv healthcheck` reads the port (and address) the way `serve` does,
# from COMICSRV_PORT or /config/config.yml, so the check follows a changed
# port; it writes nothing, whoever Docker runs it as.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["comicsrv", "healthcheck"]

ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/comicsrv-entrypoint"]
CMD ["comicsrv", "serve"]
