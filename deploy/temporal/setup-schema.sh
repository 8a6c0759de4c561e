#!/bin/sh
# One-shot (temporal-schema service): creates or upgrades Temporal's two databases on the shared Postgres.
set -eu
PG_HOST=${POSTGRES_SEEDS:-postgres}
tool() { temporal-sql-tool --plugin postgres12 --ep "$PG_HOST" -u "$POSTGRES_USER" -p 5432 "$@"; }
until nc -z -w 5 "$PG_HOST" 5432; do echo "waiting for $PG_HOST:5432"; sleep 2; done
for db in temporal temporal_visibility; do
  schema=temporal; [ "$db" = temporal_visibility ] && schema=visibility
  tool --db "$db" create || true # exists after the first start
  tool --db "$db" setup-schema -v 0.0 || true
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo "Temporal schema ready"
