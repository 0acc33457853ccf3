#!/usr/bin/env bash
# The production profile on one machine, for a trial (Procfile-style): migrates the Blast
# database, applies the pool limits, then starts the code server, the Dagster webserver and
# daemon, one Celery worker per queue (`dagster`, `sed`; when BLAST_EXECUTOR=celery) and the
# project's web service. Ctrl-C (or SIGTERM) stops them all; if one of them exits, the others
# are stopped too and the script exits 1. Logs: $BLAST_LOG_DIR (default $DAGSTER_HOME/logs).
#
#   cp deploy/production.env.example deploy/production.env   # edit; or export the variables
#   mkdir -p $DAGSTER_HOME && cp deploy/dagster.postgres.yaml $DAGSTER_HOME/dagster.yaml
#   deploy/run-all.sh
#   blast-pipeline doctor                                      # in another shell
set -euo pipefail
cd "$(dirname "$0")/.."

env_file=${BLAST_ENV_FILE:-deploy/production.env}
if [[ -f $env_file ]]; then
    set -a
    # shellcheck disable=SC1090
    . "$env_file"
    set +a
fi
: "${DAGSTER_HOME:?set DAGSTER_HOME (a folder holding deploy/dagster.postgres.yaml as dagster.yaml)}"
if [[ ! -f $DAGSTER_HOME/dagster.yaml ]]; then
    echo "run-all: $DAGSTER_HOME/dagster.yaml is missing: cp deploy/dagster.postgres.yaml there" >&2
    exit 2
fi

host=${BLAST_RUN_HOST:-127.0.0.1}
webserver_port=${BLAST_WEBSERVER_PORT:-3000}
web_port=${BLAST_WEB_PORT:-8000}
code_port=${BLAST_CODE_SERVER_PORT:-4266}
logs=${BLAST_LOG_DIR:-$DAGSTER_HOME/logs}
mkdir -p "$logs"
export BLAST_DAGSTER_WEBSERVER_URL=${BLAST_DAGSTER_WEBSERVER_URL:-http://$host:$webserver_port}
export BLAST_WEB_URL=${BLAST_WEB_URL:-http://$host:$web_port}

# The webserver and daemon reach the code through the code server (one process loads it).
workspace=$logs/workspace.yaml
cat > "$workspace" <<EOF
load_from:
  - grpc_server:
      host: $host
      port: $code_port
      location_name: blast_pipeline
EOF

blast-pipeline migrate
blast-pipeline configure-instance

pids=()
names=()
start() {
    local name=$1
    shift
    # its own session and process group: stopping it stops what it started (run workers,
    # Celery pool processes)
    setsid "$@" > "$logs/$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
    echo "run-all: started $name (pid $!, log $logs/$name.log)"
}

stopping=0
stop_all() {
    ((stopping)) && return
    stopping=1
    local pid killer
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2> /dev/null || true
    done
    for pid in "${pids[@]}"; do
        (sleep 30 && kill -KILL -- "-$pid" 2> /dev/null) &
        killer=$!
        wait "$pid" 2> /dev/null || true
        kill "$killer" 2> /dev/null || true
        wait "$killer" 2> /dev/null || true
        kill -KILL -- "-$pid" 2> /dev/null || true # what outlived its leader
    done
    echo "run-all: stopped ${names[*]}"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

start code-server dagster code-server start -h "$host" -p "$code_port" \
    -m blast_pipeline.definitions --location-name blast_pipeline
start webserver dagster-webserver -w "$workspace" -h "$host" -p "$webserver_port"
start daemon dagster-daemon run -w "$workspace"
if [[ ${BLAST_EXECUTOR:-in_process} == celery ]]; then
    for queue in dagster sed; do
        start "worker-$queue" dagster-celery worker start -A dagster_celery.app \
            -y deploy/celery.yaml -q "$queue" -n "$queue@%h"
    done
fi
start web blast-pipeline serve --host "$host" --port "$web_port"
echo "run-all: webserver $BLAST_DAGSTER_WEBSERVER_URL, web service $BLAST_WEB_URL; Ctrl-C stops all"

wait -n || true
for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2> /dev/null; then
        echo "run-all: ${names[$i]} exited (see $logs/${names[$i]}.log); stopping the others" >&2
    fi
done
exit 1
