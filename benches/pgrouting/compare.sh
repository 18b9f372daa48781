#!/usr/bin/env bash
# dispatch-roads against pgRouting on the same extract and the same speeds per class:
# 1,000 random pairs (one-to-one) and a 100 × 100 matrix (bucket many-to-many), node to
# node at pgRouting's vertices that are also nodes of our graph.
# Needs: apt-get install postgresql-15-pgrouting postgresql-15-postgis-3 osm2pgrouting osmium-tool
# Run from the repository root as root: bash benches/pgrouting/compare.sh [EXTRACT]
# A private PostgreSQL on 127.0.0.1:55432 under $WORK is started and stopped.
set -euo pipefail
EXTRACT=$(realpath "${1:-../shared/data/osm/helsinki.osm.pbf}")
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/dispatch-pgrouting}
PORT=55432
PG=/usr/lib/postgresql/15/bin
rm -rf "$WORK" && mkdir -p "$WORK" && chmod 777 "$WORK"

# The same exclusions as the car profile where osm2pgrouting has none.
osmium tags-filter -i -O -o "$WORK/drivable.osm.pbf" "$EXTRACT" \
  w/access=no,private w/motor_vehicle=no,private w/motorcar=no,private w/area=yes w/oneway=reversible
osmium cat -O -o "$WORK/drivable.osm" "$WORK/drivable.osm.pbf"

su postgres -c "$PG/initdb -D $WORK/pg -A trust -U postgres" > "$WORK/initdb.log"
su postgres -c "$PG/pg_ctl -D $WORK/pg -o '-p $PORT -k $WORK -c listen_addresses=127.0.0.1' -l $WORK/pg.log -w start" > /dev/null
trap 'su postgres -c "$PG/pg_ctl -D $WORK/pg -m fast stop" > /dev/null' EXIT
PSQL=(psql -h 127.0.0.1 -p $PORT -U postgres -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -c "create database roads"
"${PSQL[@]}" -d roads -c "create extension postgis; create extension pgrouting"
osm2pgrouting -f "$WORK/drivable.osm" -c "$HERE/mapconfig.xml" -d roads -h 127.0.0.1 -p $PORT -U postgres --clean > "$WORK/osm2pgrouting.log"
"${PSQL[@]}" -d roads -c "\copy (select id, lon, lat from ways_vertices_pgr) to '$WORK/vertices.csv' csv"

cargo run -q --release -p dispatch-roads --example pgr_pairs -- "$EXTRACT" pairs 1000 7 < "$WORK/vertices.csv" > "$WORK/pairs.csv"
cargo run -q --release -p dispatch-roads --example pgr_pairs -- "$EXTRACT" matrix 100 8 < "$WORK/vertices.csv" > "$WORK/matrix.csv"

EDGES="select gid as id, source, target, cost_s as cost, reverse_cost_s as reverse_cost from ways"
for set in pairs matrix; do
  "${PSQL[@]}" -d roads -c "drop table if exists q; create table q (s bigint, t bigint, ours float8)" \
    -c "\copy q from '$WORK/$set.csv' csv"
  start=$(date +%s.%N)
  "${PSQL[@]}" -d roads -c "create table d_$set as select start_vid, end_vid, sum(cost) as agg_cost
      from pgr_dijkstra('$EDGES', 'select distinct s as source, t as target from q', true)
      group by start_vid, end_vid"
  echo "$set: pgRouting $(python3 -c "import time; print(round(time.time() - $start, 3))") s"
  "${PSQL[@]}" -d roads -c "\copy (select q.s, q.t, q.ours, d.agg_cost from q left join d_$set d on d.start_vid = q.s and d.end_vid = q.t where q.s <> q.t) to '$WORK/$set.out.csv' csv"
  python3 - "$WORK/$set.out.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
n = len(rows); routed = [r for r in rows if r[3] != ""]
rel = sorted(abs(float(r[2]) - float(r[3])) / max(float(r[3]), 1e-9) for r in routed)
within = sum(1 for x in rel if x <= 0.02)
print(f"  pairs {n}, routed by pgRouting {len(routed)}, within 2 %: {within} ({100 * within / max(len(routed), 1):.1f} %),"
      f" median |diff| {100 * rel[len(rel) // 2]:.2f} %, p95 {100 * rel[int(len(rel) * 0.95)]:.2f} %, max {100 * rel[-1]:.1f} %")
PY
done
