#!/usr/bin/env bash
# Logins with hashed accounts and memory per idle session: Herald, and when installed Debian's
# Prosody and ejabberd, configured alike (hashed credentials, in-band registration of the bench
# accounts, memory/Mnesia storage, loopback, no TLS), driven by test/bench/login-load.ts in one run.
# Prints one table with the ratios; never fails on figures.
#   bash test/bench/run-logins.sh [SESSIONS] [CONCURRENCY] [IDLE_SESSIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SESSIONS=${1:-500}; CONC=${2:-50}; IDLE=${3:-0}; SERVERS=${SERVERS:-herald prosody ejabberd}
want() { [[ " $SERVERS " == *" $1 "* ]]; }
ulimit -n 65536 2>/dev/null || true
npm run build >/dev/null
WORK=$(mktemp -d); chmod 755 "$WORK"
HPID=""; EJ_NODE="herald_bench_$$@localhost"
cleanup() {
  [ -n "$HPID" ] && kill -9 "$HPID" 2>/dev/null || true
  [ -f "$WORK/prosody/prosody.pid" ] && bash ../shared/prosody-reference/stop.sh "$WORK/prosody" >/dev/null 2>&1 || true
  [ -d "$WORK/ejabberd" ] && ejabberdctl --node "$EJ_NODE" --ctl-config "$WORK/ejabberd/ejabberdctl.cfg" stop >/dev/null 2>&1 || true
  sleep 1; rm -rf "$WORK"
}
trap cleanup EXIT
stop_pid() { kill "$1" 2>/dev/null || return 0; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; }
BASE=$((20000 + $$ % 4000 * 3)); HPORT=$BASE; PPORT=$((BASE + 1)); EPORT=$((BASE + 2))
RESULTS="$WORK/results.jsonl"
run() { node dist/test/bench/login-load.js --label "$1" --port "$2" --pid "$3" --sessions "$SESSIONS" --concurrency "$CONC" --idle "$IDLE" | tee -a "$RESULTS" || echo "$1: the run failed (see above)" >&2; }

if want herald; then
cat > "$WORK/herald.cfg.lua" <<CFG
data_path = "$WORK/herald-data"
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
interfaces = { "127.0.0.1" }
c2s_max_unauthenticated_per_ip = 100000 -- every load client connects from 127.0.0.1
limit_auth_max = 10000 -- nor does the per-address login throttle apply (Prosody and ejabberd have none)
limit_auth_period = 1
c2s_ports = { $HPORT }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
log = "warn"
modules_enabled = { "roster"; "disco"; "ping"; "version"; "uptime"; "time"; "private"; "carbons"; "blocklist"; "register" }
VirtualHost "localhost"
CFG
node bin/herald start -c "$WORK/herald.cfg.lua" & HPID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$HPORT") 2>/dev/null && break; sleep 0.1; done
sleep 2
run herald $HPORT $HPID
stop_pid $HPID; HPID=""
fi

if want prosody && command -v prosody >/dev/null; then
  mkdir -p "$WORK/prosody/data" "$WORK/prosody/certs"
  # The reference setup (../shared/prosody-reference), with hashed accounts and in-band registration.
  sed -e "s#@DIR@#$WORK/prosody#g" -e "s#@PORT@#$PPORT#g" -e 's/^authentication = "insecure".*/authentication = "internal_hashed"/' \
    -e 's/^insecure_open_authentication.*//' -e 's/^allow_registration = false/allow_registration = true/' \
    ../shared/prosody-reference/prosody.cfg.lua.in > "$WORK/prosody/prosody.cfg.lua"
  prosody --config "$WORK/prosody/prosody.cfg.lua" -D
  for _ in $(seq 100); do [ -s "$WORK/prosody/prosody.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null && break; sleep 0.1; done
  sleep 2
  run prosody $PPORT "$(cat "$WORK/prosody/prosody.pid")"
  stop_pid "$(cat "$WORK/prosody/prosody.pid")"; rm -f "$WORK/prosody/prosody.pid"
fi

if want ejabberd && command -v ejabberdctl >/dev/null; then
  mkdir -p "$WORK/ejabberd/spool" "$WORK/ejabberd/logs"
  cat > "$WORK/ejabberd/ejabberd.yml" <<CFG
hosts: ["localhost"]
loglevel: warning
listen:
  - port: $EPORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    backlog: 1024
auth_method: internal
auth_password_format: scram
registration_timeout: infinity
acl:
  local:
    user_regexp: ""
access_rules:
  register:
    allow: all
  c2s:
    allow: all
  local:
    allow: local
shaper_rules: {}
modules:
  mod_register:
    access: register
    ip_access: all
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
  mod_version: {}
  mod_time: {}
  mod_private: {}
  mod_blocking: {}
  mod_privacy: {}
  mod_last: {}
CFG
  echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"' > "$WORK/ejabberd/ejabberdctl.cfg" # not /etc/ejabberd's
  chown -R ejabberd "$WORK/ejabberd"
  EJ="ejabberdctl --node $EJ_NODE --ctl-config $WORK/ejabberd/ejabberdctl.cfg --config $WORK/ejabberd/ejabberd.yml --spool $WORK/ejabberd/spool --logs $WORK/ejabberd/logs"
  $EJ start || { cat "$WORK"/ejabberd/logs/* >&2; }
  $EJ started >/dev/null 2>&1 || true
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$EPORT") 2>/dev/null && break; sleep 0.2; done
  sleep 2
  EPID=$(pgrep -f -- "$EJ_NODE" | while read -r p; do grep -q beam "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done | head -1 || true)
  run ejabberd $EPORT "$EPID"
  $EJ stop >/dev/null 2>&1 || true
fi

echo "node $(node --version), prosody $(dpkg-query -W -f='${Version}' prosody 2>/dev/null || echo -), ejabberd $(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null || echo -); $SESSIONS logins per mechanism, $CONC in flight; $IDLE idle sessions; 2 cores"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const h = rows.find((r) => r.label === "herald") ?? rows[0];
const f = (x, d = 0) => x ? x.toFixed(d) : "-";
console.log("| server | PLAIN logins/s | SCRAM-SHA-1 logins/s | idle RSS MiB | KiB per idle session | Herald PLAIN / this | Herald SCRAM / this |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.label} | ${f(r.plain)} | ${f(r.scram)} | ${f(r.idleRssMiB, 1)} | ${r.idle ? f(r.perSessionKiB, 1) : "-"} | ${f(h.plain / r.plain, 2)} | ${f(h.scram / r.scram, 2)} |`);
' "$RESULTS"
