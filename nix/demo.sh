#!/usr/bin/env bash
# `just demo`: the gateway end to end, on this machine, against fakediscord.
#
#   fakediscord (2 shards) --websocket--> cordis-gateway --AMQP--> RabbitMQ --> cordis-tail
#   cordis-tail -command --> gateway_commands --> cordis-gateway --> every shard --> fakediscord
#
# Needs Go, curl and RabbitMQ on 127.0.0.1:5672 (guest/guest; started with
# `rabbitmq-server -detached` when it is down). Set CORDIS_AMQP_HOST to use
# another broker. Everything it starts is stopped at the end, by pid.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"

shards=2
guilds=2
burst=500
amqp_host="${CORDIS_AMQP_HOST:-127.0.0.1}"
work="$(mktemp -d "${TMPDIR:-/tmp}/cordis-demo.XXXXXX")"

bold=""; dim=""; off=""
if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
info() { printf '    %s\n' "$*"; }
fail() {
  printf '\ndemo: %s\n' "$*" >&2
  for f in fakediscord gateway tail; do
    if [ -s "$work/$f.log" ]; then
      printf '\n--- last lines of %s.log ---\n' "$f" >&2
      tail -n 15 "$work/$f.log" >&2
    fi
  done
  exit 1
}

# Processes we started, stopped in reverse order on any exit.
pids=()
names=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      kill -TERM "${pids[i]}" 2>/dev/null || true
    fi
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    wait "${pids[i]}" 2>/dev/null || true
  done
  printf '%slogs: %s%s\n' "$dim" "$work" "$off"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start() { # start NAME CMD...: run in the background, logging to $work/NAME.log
  local name="$1"; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
}
# wait_until SECONDS WHAT CMD...: poll CMD every 0.2 s.
wait_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}
alive() { kill -0 "$1" 2>/dev/null; }

command -v go >/dev/null || fail "go not found (Go 1.26)"
command -v curl >/dev/null || fail "curl not found"

step "build"
go build -o "$work/bin/" ./src/cmd/cordis-gateway ./src/cmd/cordis-tail ./fakediscord/cmd/fakediscord
info "$(cd "$work/bin" && echo *)"

step "RabbitMQ at $amqp_host"
amqp_up() {
  local h="${amqp_host#*://}"; h="${h#*@}"; h="${h%%/*}"
  local host="${h%:*}" port="${h##*:}"
  [ "$host" != "$h" ] || port=5672
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}
if amqp_up; then
  info "up"
elif [ "$amqp_host" = 127.0.0.1 ] && command -v rabbitmq-server >/dev/null; then
  info "down: rabbitmq-server -detached"
  rabbitmq-server -detached
  wait_until 60 RabbitMQ amqp_up
else
  fail "RabbitMQ does not answer at $amqp_host (start it: rabbitmq-server -detached)"
fi

step "fakediscord: $shards shards, $guilds guilds each, max_concurrency $shards"
start fakediscord "$work/bin/fakediscord" -shards "$shards" -guilds "$guilds" \
  -max-concurrency "$shards" -heartbeat-interval 5s
fd_pid="${pids[-1]}"
wait_until 10 "fakediscord's address line" grep -qs control_url "$work/fakediscord.log"
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$work/fakediscord.log" | head -n 1; }
api_url="$(json_field api_url)"
control="$(json_field control_url)"
token="$(json_field token)"
info "REST    $api_url"
info "control $control"

step "cordis-tail: binds an exclusive queue to the gateway exchange"
start tail "$work/bin/cordis-tail" -amqp "$amqp_host" -every 2s
tail_pid="${pids[-1]}"
wait_until 10 "cordis-tail to listen" grep -qs "listening on" "$work/tail.log"
info "$(grep "listening on" "$work/tail.log")"

step "cordis-gateway: CORDIS_DISCORD_API=$api_url CORDIS_WS_ENCODING=json"
start gateway env CORDIS_AUTH="Bot $token" CORDIS_AMQP_HOST="$amqp_host" \
  CORDIS_DISCORD_API="$api_url" CORDIS_WS_ENCODING=json CORDIS_WS_COMPRESS=zlib-stream \
  "$work/bin/cordis-gateway"
gw_pid="${pids[-1]}"

# events NAME: how many NAME lines cordis-tail printed.
events() { grep -c "^$1 " "$work/tail.log" || true; }
all_ready() { alive "$gw_pid" || fail "cordis-gateway exited"; [ "$(events READY)" -ge "$shards" ]; }
wait_until 60 "READY from $shards shards" all_ready
wait_until 20 "the initial GUILD_CREATEs" eval '[ "$(events GUILD_CREATE)" -ge $((shards * guilds)) ]'
info "both shards identified; what cordis-tail printed so far:"
grep -E "^(READY|GUILD_CREATE) " "$work/tail.log" | sed 's/^/      /'

step "a burst: fakediscord sends $burst events (realistic mix) as fast as the shards take them"
before="$(wc -l <"$work/tail.log")"
report="$(curl -fsS -X POST "$control/load" -d "{\"count\":$burst,\"rate\":0}")" || fail "POST /load failed"
info "fakediscord sent $(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' <<<"$report") events: $(sed -n 's/.*"by_event":{\([^}]*\)}.*/\1/p' <<<"$report" | tr -d '"')"
burst_lines() { tail -n "+$((before + 1))" "$work/tail.log" | grep -vE '^(--|cordis-tail:)' || true; }
received() { burst_lines | wc -l; }
wait_until 60 "cordis-tail to receive $burst events" eval '[ "$(received)" -ge '"$burst"' ]'
info "cordis-tail received $(received) events:"
burst_lines | awk '{print $1}' | sort | uniq -c | sort -rn | sed 's/^/      /'
info "a few of them:"
burst_lines | head -n 4 | sed 's/^/      /'

# op3 SHARD: how many op 3 messages fakediscord received from SHARD.
op3() { curl -fsS "$control/shards/$1/received" | { grep -o '"Op":3[,}]' || true; } | wc -l; }
show_op3() { # the exact bytes of the last op 3 SHARD sent
  curl -fsS "$control/shards/$1/received" | { grep -o '"Raw":"[^"]*","Op":3[,}]' || true; } | tail -n 1 |
    sed 's/"Raw":"\([^"]*\)".*/\1/' | base64 -d
}

step "a command: cordis-tail -command '{\"op\":3,...}' -> gateway_commands -> every shard"
presence='{"op":3,"d":{"since":null,"activities":[{"name":"the Cordis demo","type":0}],"status":"online","afk":false}}'
"$work/bin/cordis-tail" -amqp "$amqp_host" -command "$presence" | sed 's/^/    /'
for ((s = 0; s < shards; s++)); do
  wait_until 10 "shard $s to send op 3" eval '[ "$(op3 '"$s"')" -ge 1 ]'
  info "fakediscord, shard $s received: $(show_op3 "$s")"
done

step "a targeted command: AMQP header shard_id=1 -> shard 1 only"
idle='{"op":3,"d":{"since":null,"activities":[],"status":"idle","afk":false}}'
"$work/bin/cordis-tail" -amqp "$amqp_host" -command "$idle" -shard 1 | sed 's/^/    /'
wait_until 10 "shard 1 to send the second op 3" eval '[ "$(op3 1)" -ge 2 ]'
sleep 0.5
info "shard 0: $(op3 0) op 3 received, shard 1: $(op3 1)"
info "fakediscord, shard 1 received: $(show_op3 1)"

step "a refused command: op 2 (identify) belongs to the gateway and never reaches Discord"
# opcount SHARD OP: how many OP messages fakediscord received from SHARD.
opcount() { curl -fsS "$control/shards/$1/received" | { grep -o "\"Op\":$2[,}]" || true; } | wc -l; }
identifies_before="$(opcount all 2)"
"$work/bin/cordis-tail" -amqp "$amqp_host" -command '{"op":2,"d":{"token":"x"}}' -unchecked | sed 's/^/    /'
# A valid command published after it proves the consumer kept going.
"$work/bin/cordis-tail" -amqp "$amqp_host" -command "$presence" -shard 0 | sed 's/^/    /'
wait_until 10 "shard 0 to send the third op 3" eval '[ "$(op3 0)" -ge 2 ]'
info "IDENTIFYs fakediscord received: $identifies_before before, $(opcount all 2) after (the shards' own)"
[ "$(opcount all 2)" -eq "$identifies_before" ] || fail "the refused op 2 reached fakediscord"
info "cordis-gateway: $(grep -m 1 'dropped a command' "$work/gateway.log" || echo '(no log line about the refused command)')"
info "and the command after it arrived: $(show_op3 0)"

step "shutdown: SIGTERM to cordis-gateway"
kill -TERM "$gw_pid"
t0=$SECONDS
if wait "$gw_pid"; then rc=0; else rc=$?; fi
info "cordis-gateway exited with status $rc after $((SECONDS - t0))s"
grep -E '"level":"(INFO|WARN|ERROR)"' "$work/gateway.log" | tail -n 4 | sed 's/^/      /'
[ "$rc" -eq 0 ] || fail "cordis-gateway exited with $rc"
kill -INT "$tail_pid" 2>/dev/null || true
wait "$tail_pid" 2>/dev/null || true
info "$(grep -- '-- total' "$work/tail.log" | tail -n 1)"
kill -TERM "$fd_pid" 2>/dev/null || true
wait "$fd_pid" 2>/dev/null || true

step "done"
