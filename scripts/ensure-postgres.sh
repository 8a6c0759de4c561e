#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers, so `npm test` and CI work on a fresh Debian machine.
#   - DATABASE_URL set: only check that it answers (it may be any server; we manage none).
#   - otherwise, for ${PGHOST:-127.0.0.1}:${PGPORT:-5432}: start the local Debian cluster if it is down,
#     install PostgreSQL first if it is missing (root only), and let the postgres user log in over
#     TCP on 127.0.0.1 without a password (the tests' default URL is postgres://postgres@127.0.0.1:5432).
# Idempotent: when the server already answers it changes nothing.
set -euo pipefail

host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}
say() { echo "ensure-postgres: $*"; }
die() { echo "ensure-postgres: $*" >&2; exit 1; }

if [ -n "${DATABASE_URL:-}" ]; then
  command -v pg_isready >/dev/null || die "pg_isready not found (apt-get install postgresql-client) to check DATABASE_URL"
  pg_isready -q -t 5 -d "$DATABASE_URL" || die "DATABASE_URL is set but its server does not answer"
  say "DATABASE_URL answers; nothing to do"
  exit 0
fi

is_ready() { command -v pg_isready >/dev/null && pg_isready -q -t 3 -h "$host" -p "$port"; }
is_root() { [ "$(id -u)" = 0 ]; }

if is_ready; then
  say "PostgreSQL answers on $host:$port; nothing to do"
  exit 0
fi

case "$host" in
  127.0.0.1 | localhost | ::1) ;;
  *) die "nothing answers on $host:$port, and that is not this machine: start it there or set PGHOST/DATABASE_URL" ;;
esac

if ! { command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; }; then
  is_root || die "PostgreSQL is not installed. Install it (sudo apt-get install -y postgresql) or set DATABASE_URL."
  say "PostgreSQL is not installed: installing it with apt-get (takes a minute)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | head -1)
if [ ! -d "/etc/postgresql/$version/main" ]; then
  say "creating cluster $version/main"
  pg_createcluster "$version" main >/dev/null
fi

# Without systemd (containers, CI) pg_ctlcluster must not hand over to systemctl.
if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
  say "starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start \
    || die "could not start cluster $version/main (as root: pg_ctlcluster --skip-systemctl-redirect $version main start)"
fi
for _ in $(seq 1 30); do is_ready && break; sleep 1; done
is_ready || die "cluster $version/main started but nothing answers on $host:$port (check its port in /etc/postgresql/$version/main/postgresql.conf)"

# The tests connect as postgres over TCP without a password; Debian's default asks for one.
if ! psql -h "$host" -p "$port" -U postgres -w -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  hba=/etc/postgresql/$version/main/pg_hba.conf
  is_root || die "postgres cannot log in over TCP without a password; add 'host all postgres 127.0.0.1/32 trust' to $hba (as root) or set DATABASE_URL"
  say "allowing password-less TCP login for postgres from 127.0.0.1 in $hba"
  # First matching line wins, so the trust lines go on top.
  sed -i '1i host all postgres 127.0.0.1/32 trust # added by leadwire scripts/ensure-postgres.sh\nhost all postgres ::1/128 trust # added by leadwire scripts/ensure-postgres.sh' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  sleep 1
  psql -h "$host" -p "$port" -U postgres -w -d postgres -Atqc 'select 1' >/dev/null || die "postgres still cannot log in over TCP"
fi

say "PostgreSQL answers on $host:$port"
