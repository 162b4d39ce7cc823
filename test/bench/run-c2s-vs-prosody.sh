#!/usr/bin/env bash
# Herald and the reference Prosody side by side under the same c2s load (test/bench/c2s-load.ts):
# both on loopback, any password accepted, memory storage, no TLS. Prints the figures of each.
#   bash test/bench/run-c2s-vs-prosody.sh [SESSIONS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/../.."
SESSIONS=${1:-1000}; CONC=${2:-50}
npm run build >/dev/null
WORK=$(mktemp -d); trap 'bash ../shared/prosody-reference/stop.sh "$WORK/prosody" >/dev/null 2>&1 || true; kill $HPID 2>/dev/null || true; rm -rf "$WORK"' EXIT
HPORT=25222; PPORT=25223
cat > "$WORK/herald.cfg.lua" <<CFG
data_path = "$WORK/herald-data"
authentication = "insecure"
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
interfaces = { "127.0.0.1" }
c2s_max_unauthenticated_per_ip = 1000 -- every load client logs in from 127.0.0.1
c2s_ports = { $HPORT }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
log = "warn"
modules_enabled = { "roster"; "disco"; "ping"; "version"; "uptime"; "time"; "private"; "carbons"; "blocklist" }
VirtualHost "localhost"
CFG
node bin/herald start -c "$WORK/herald.cfg.lua" & HPID=$!
bash ../shared/prosody-reference/start.sh "$WORK/prosody" $PPORT >/dev/null
PPID_=$(cat "$WORK/prosody/prosody.pid")
sleep 1
echo "node $(node --version), prosody $(dpkg-query -W -f='${Version}' prosody 2>/dev/null), $SESSIONS sessions, concurrency $CONC"
node dist/test/bench/c2s-load.js --label herald --port $HPORT --pid $HPID --sessions "$SESSIONS" --concurrency "$CONC"
node dist/test/bench/c2s-load.js --label prosody --port $PPORT --pid "$PPID_" --sessions "$SESSIONS" --concurrency "$CONC"
