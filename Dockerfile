# comicsrv in the linuxserver.io manner: PUID/PGID/UMASK/TZ honoured,
# /config for the data directory, /comics and /downloads for media.
#
#   docker build -t comicsrv .
#   docker run -d -p 8090:8090 -e PUID=1000 -e PGID=1000 -e TZ=Europe/Berlin \
#     -v /srv/comicsrv:/config -v /srv/comics:/comics -v /srv/downloads:/downloads comicsrv
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PUID=1000 \
    PGID=1000 \
    UMASK=022 \
    TZ=Etc/UTC \
    COMICSRV_DATA_DIR=/config \
    COMICSRV_HOST=0.0.0.0 \
    COMICSRV_PORT=8090

COPY scripts/system-packages /tmp/system-packages
RUN apt-get update \
    && grep -v '^#' /tmp/system-packages | xargs apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/* /tmp/system-packages

WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir '/app[postgres]' \
    && rm -rf /app/build /app/*.egg-info \
    && install -m 0755 /app/docker/entrypoint.sh /usr/local/bin/comicsrv-entrypoint \
    && mkdir -p /config /comics /downloads

VOLUME ["/config", "/comics", "/downloads"]
EXPOSE 8090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8090/ping', timeout=4).status == 200 else 1)"

ENTRYPOINT ["/usr/local/bin/comicsrv-entrypoint"]
CMD ["comicsrv", "serve"]
