#!/usr/bin/env bash
# What `make test` needs besides the Python packages, found or installed in the first seconds:
# - headless Chromium (the sync-health page is tested in a real browser): Debian's package, installed when this
#   runs as root with apt-get; else it stops here, naming the one command to run;
# - a Java runtime (17 or newer) for Spark, which the Spark test runs in the suite's own process (the `spark`
#   target): Debian's openjdk-17-jre-headless, installed when this runs as root; else it stops here;
# - a PostgreSQL server: the one the PG* variables name, else the machine's on 127.0.0.1:5432 (started when its
#   Debian cluster is installed but stopped and this runs as root). When there is none, it says so and the
#   suite starts a server of its own (the embedded Postgres, in .sis-sync/test-pg: tests/python/conftest.py).
set -euo pipefail

say() { echo "make test: $*" >&2; }

apt_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    say "installing $* from Debian's packages"
    if [ ! -d /var/lib/apt/lists ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
        apt-get update -qq >/dev/null
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

if ! command -v chromium >/dev/null 2>&1; then
    if ! apt_install chromium; then
        say "the tests need headless Chromium and it is not installed; run:  sudo apt-get install chromium"
        exit 1
    fi
fi

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ] 2>/dev/null; then
    if ! apt_install openjdk-17-jre-headless; then
        say "the Spark test needs a Java 17 runtime and none is installed; run:  sudo apt-get install openjdk-17-jre-headless"
        exit 1
    fi
fi

answers() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$1" -p "$2" 2>/dev/null \
    || (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [ -n "${PGHOST:-}${PGPORT:-}" ]; then
    host=${PGHOST:-127.0.0.1} port=${PGPORT:-5432}
    if ! answers "$host" "$port"; then
        say "PGHOST/PGPORT name $host:$port and no Postgres answers there; start it, or unset them"
        exit 1
    fi
elif ! answers 127.0.0.1 5432; then
    if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
        version=$(ls /etc/postgresql | sort -V | tail -n1)
        say "starting the machine's Postgres $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        for _ in $(seq 30); do answers 127.0.0.1 5432 && break; sleep 1; done
    fi
    if ! answers 127.0.0.1 5432; then
        say "no Postgres on 127.0.0.1:5432: the suite starts its own (embedded, in .sis-sync/test-pg)"
    fi
fi
# (a server on 127.0.0.1:5432 that asks user postgres for a password is passed over by the suite, which then
# starts its own: tests/python/conftest.py)
