#!/bin/bash
# Throughput of `GET /sessions` on a database loaded by bench/scale_sessions.py (account and
# app "s"): one `rtk-sessions serve` process on loopback, bench/loadgen.py driving only the
# list (`--mix list=1`: pages 1-20 of 25) at concurrency 1, 4 and 16 for 20 s each; then 25 s
# more at 16 while py-spy (if PYSPY names it; not in the lock) records a flame graph of the
# server into OUT.svg. The server's process group is killed on exit, whatever happens.
#
#   bench/list_throughput.sh sqlite+aiosqlite:////tmp/scale/s1m.db /tmp/scale/flame-sqlite
#   PYSPY=/tmp/spyvenv/bin/py-spy bench/list_throughput.sh \
#       postgresql+asyncpg://postgres@127.0.0.1:5432/rtk_scale /tmp/scale/flame-pg
set -eu
URL=$1
OUT=${2:-/tmp/list-throughput}
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA=$(mktemp -d /tmp/rtk-throughput-XXXX)
PORT=$($PY -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
export RTK_DATA_DIR=$DATA RTK_HOST=127.0.0.1 RTK_PORT=$PORT RTK_DATABASE_URL=$URL \
    RTK_LOG_LEVEL=warning RTK_RATE_LIMIT_READ=100000000/minute
TOKEN=$($PY -m rtk_sessions token create --account s --permission read | tail -1)
setsid $PY -m rtk_sessions serve > "$DATA/server.log" 2>&1 < /dev/null &
SERVER=$!
trap 'kill -TERM -$SERVER 2>/dev/null || true; sleep 3; kill -KILL -$SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null && break
    sleep 0.2
done
drive() {
    $PY bench/loadgen.py --url "http://127.0.0.1:$PORT" --token "$TOKEN" --account s --app s \
        --sessions 0 --server-pid "$SERVER" --mix list=1 "$@"
}
drive --concurrency 1,4,16 --duration 20
if [ -n "${PYSPY:-}" ]; then
    ( sleep 5; "$PYSPY" record --pid "$SERVER" --rate 100 --duration 15 --subprocesses \
        -o "$OUT.svg" > "$OUT.log" 2>&1 ) &
    SPY=$!
fi
drive --concurrency 16 --duration 25
if [ -n "${PYSPY:-}" ]; then wait "$SPY" || true; fi
