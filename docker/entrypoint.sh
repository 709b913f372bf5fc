#!/bin/sh
# Run comicsrv as the unprivileged user PUID:PGID with UMASK, the way
# linuxserver.io images do, so files written to /comics belong to the NAS
# user and not to root.
set -eu

PUID=${PUID:-1000}
PGID=${PGID:-1000}
UMASK=${UMASK:-022}
DATA_DIR=${COMICSRV_DATA_DIR:-/config}

if [ "$(id -u)" = 0 ]; then
    if ! getent group "$PGID" >/dev/null; then
        groupadd --gid "$PGID" comicsrv
    fi
    if ! getent passwd "$PUID" >/dev/null; then
        useradd --uid "$PUID" --gid "$PGID" --home-dir "$DATA_DIR" --no-create-home \
            --shell /usr/sbin/nologin comicsrv
    fi
    # Only the data directory is taken over; media folders keep their owners.
    mkdir -p "$DATA_DIR"
    chown "$PUID:$PGID" "$DATA_DIR"
    for f in "$DATA_DIR"/comicsrv.db* "$DATA_DIR"/secret_key "$DATA_DIR"/config.yml; do
        if [ -e "$f" ]; then chown "$PUID:$PGID" "$f"; fi
    done
    umask "$UMASK"
    exec setpriv --reuid="$PUID" --regid="$PGID" --init-groups "$@"
fi

umask "$UMASK"
exec "$@"
