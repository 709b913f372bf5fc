#!/bin/sh
# Run comicsrv as the unprivileged user PUID:PGID with UMASK, the way
# linuxserver.io images do, so files written to /comics belong to the NAS
# user and not to root. tini runs this script as PID 1's child.
#
# Everything in the data directory is made PUID:PGID's, recursively: after a
# change of PUID/PGID (unRAID's 99:100 after 1000:1000) the server must still
# write its database, logs, backups and caches, and so must it after a
# `docker exec` as root left a file behind. Only what has another owner is
# changed, so a start with nothing to fix costs one walk of the folder.
# Media folders keep their owners.
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
    mkdir -p "$DATA_DIR"
    find "$DATA_DIR" \( ! -user "$PUID" -o ! -group "$PGID" \) \
        -exec chown -h "$PUID:$PGID" {} +
    umask "$UMASK"
    exec setpriv --reuid="$PUID" --regid="$PGID" --init-groups "$@"
fi

umask "$UMASK"
exec "$@"
