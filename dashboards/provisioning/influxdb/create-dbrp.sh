#!/bin/bash
# Runs once, after the influxdb:2.x image's first setup (it runs /docker-entrypoint-initdb.d/*.sh with the
# influx CLI already configured): maps InfluxQL database "$DOCKER_INFLUXDB_INIT_BUCKET", retention policy
# autogen, to the bucket, so Grafana's InfluxQL queries and 1.x-style clients find it. 2.4+ also has a
# virtual mapping per bucket; an explicit one does not depend on that.
set -euo pipefail
bucket_id=$(influx bucket list --org "$DOCKER_INFLUXDB_INIT_ORG" --name "$DOCKER_INFLUXDB_INIT_BUCKET" --hide-headers | cut -f1)
influx v1 dbrp create \
  --org "$DOCKER_INFLUXDB_INIT_ORG" \
  --bucket-id "$bucket_id" \
  --db "$DOCKER_INFLUXDB_INIT_BUCKET" \
  --rp autogen \
  --default
