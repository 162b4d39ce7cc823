#!/usr/bin/env bash
# Herald's mod_muc and the reference Prosody's mod_muc side by side under the same group chat load
# (test/bench/muc.ts): both on loopback, any password accepted, memory storage, no TLS, one run.
#   bash test/bench/run-muc-vs-prosody.sh [OCCUPANTS] [LATENCY_MESSAGES] [BURST]
set -euo pipefail
cd "$(dirname "$0")/../.."
OCC=${1:-1000}; LAT=${2:-50}; BURST=${3:-200}
npm run build >/dev/null
WORK=$(mktemp -d); HPID=""
trap '[ -f "$WORK/prosody/prosody.pid" ] && kill "$(cat "$WORK/prosody/prosody.pid")" 2>/dev/null; [ -n "$HPID" ] && kill $HPID 2>/dev/null; rm -rf "$WORK"' EXIT
HPORT=25232; PPORT=25233
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
modules_enabled = { "roster"; "presence"; "disco"; "ping" }
VirtualHost "localhost"
Component "conference.localhost" "muc"
CFG
node bin/herald start -c "$WORK/herald.cfg.lua" > "$WORK/herald.log" 2>&1 & HPID=$!
# The reference Prosody, configured like ../shared/prosody-reference/start.sh does, plus its MUC.
mkdir -p "$WORK/prosody/data" "$WORK/prosody/certs"
sed -e "s#@DIR@#$WORK/prosody#g" -e "s#@PORT@#$PPORT#g" ../shared/prosody-reference/prosody.cfg.lua.in > "$WORK/prosody/prosody.cfg.lua"
printf '\nComponent "conference.localhost" "muc"\n\tstorage = "memory"\n' >> "$WORK/prosody/prosody.cfg.lua"
prosody --config "$WORK/prosody/prosody.cfg.lua" -D
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null && break; sleep 0.2; done
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$HPORT") 2>/dev/null && break; sleep 0.2; done
PPID_=$(cat "$WORK/prosody/prosody.pid")
echo "node $(node --version), prosody $(dpkg-query -W -f='${Version}' prosody 2>/dev/null), $OCC occupants"
node dist/test/bench/muc.js --label herald --port $HPORT --pid $HPID --occupants "$OCC" --latency "$LAT" --burst "$BURST" || { echo "herald's log:"; tail -20 "$WORK/herald.log"; }
node dist/test/bench/muc.js --label prosody --port $PPORT --pid "$PPID_" --occupants "$OCC" --latency "$LAT" --burst "$BURST"
