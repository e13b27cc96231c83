#!/usr/bin/env bash
# Self-test of scripts/emu-cluster (run as root; needs jq, python3, iproute2). Takes ~15 s.
# Brings up 2 emulated devices with a stand-in worker (a small python3 TCP server that prints
# READY), checks namespaces, reachability, tc rates, cgroup values, measured shaped throughput and
# CPU throttling, then tears everything down and checks that nothing named ll-* is left.
# Refuses to run while another emulated cluster is up (it would have to remove it).
set -uo pipefail

BIN_ARG="${1:-}"   # optional: path of a lingualinked binary for the real-worker section
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EMU="$HERE/emu-cluster"
PASS=0
FAIL=0
ok()   { PASS=$((PASS + 1)); printf 'ok    %s\n' "$*"; }
bad()  { FAIL=$((FAIL + 1)); printf 'FAIL  %s\n' "$*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

[ "$(id -u)" -eq 0 ] || { echo "selftest: must run as root" >&2; exit 2; }
for t in jq python3 ip tc; do command -v "$t" >/dev/null || { echo "selftest: '$t' missing" >&2; exit 2; }; done
if ip link show llbr0 >/dev/null 2>&1 || ip netns list | grep -q '^ll-' || compgen -G '/sys/fs/cgroup/cpu/ll-*' >/dev/null; then
  echo "selftest: an emulated cluster (llbr0 / ll-*) is already up; run 'scripts/emu-cluster down' first" >&2
  exit 2
fi

TMP=$(mktemp -d /tmp/ll-emu-selftest.XXXXXX)
STATE="$TMP/state"
PY=$(python3 -c 'import sys; print(sys.executable)')   # the real interpreter, not a pyenv shim
cleanup() {
  "$EMU" down --state-dir "$STATE" >/dev/null 2>&1 || true
  [ -n "${LISTENER:-}" ] && kill "$LISTENER" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# Stand-in worker: "PING" -> "PONG name"; "GET n" -> n bytes; "PUT n" + n bytes -> "OK".
cat > "$TMP/standin.py" <<'EOF'
import socket, sys, threading
addr, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(16)
print(f"READY tcp://{addr}:{port}", flush=True)
def serve(c):
    with c:
        f = c.makefile("rb")
        cmd = f.readline().split()
        if not cmd: return
        if cmd[0] == b"PING":
            c.sendall(b"PONG " + name.encode() + b"\n")
        elif cmd[0] == b"GET":
            n = int(cmd[1]); buf = b"x" * 65536
            while n > 0:
                k = min(n, len(buf)); c.sendall(buf[:k]); n -= k
        elif cmd[0] == b"PUT":
            n = int(cmd[1])
            while n > 0:
                d = f.read1(min(n, 1 << 20))
                if not d: break
                n -= len(d)
            c.sendall(b"OK\n")
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF

# Client: ping | get N | put N  -> prints "PONG name" or the throughput in Mbit/s (payload bytes).
cat > "$TMP/client.py" <<'EOF'
import socket, sys, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=10)
if mode == "ping":
    s.sendall(b"PING\n"); print(s.makefile("rb").readline().decode().strip()); sys.exit(0)
n = int(sys.argv[4]); t0 = time.monotonic()
if mode == "get":
    s.sendall(b"GET %d\n" % n); got = 0
    while got < n:
        d = s.recv(1 << 20)
        if not d: sys.exit("short read")
        got += len(d)
else:
    s.sendall(b"PUT %d\n" % n); buf = b"y" * 65536; left = n
    while left > 0:
        k = min(left, len(buf)); s.sendall(buf[:k]); left -= k
    if s.makefile("rb").readline().strip() != b"OK": sys.exit("no OK")
print(f"{n * 8 / (time.monotonic() - t0) / 1e6:.2f}")
EOF

cat > "$TMP/profile.json" <<'EOF'
{"devices": [
  {"name": "st-a", "cpu_percent": 50, "memory_budget": "64MiB", "bandwidth_mbit": 20, "threads": 1,
   "cpus": "0"},
  {"name": "st-b", "cpu_percent": 25, "memory_budget": "100MiB", "memory_limit_bytes": 201326592,
   "bandwidth_mbit": 100, "threads": 2}
]}
EOF
WCMD="$PY $TMP/standin.py {addr} {port} {name}"

nothing_left() {
  ! ip netns list | grep -q '^ll-' &&
  ! ip -o link show | awk -F': ' '{print $2}' | grep -qE '^(ll-|llbr0)' &&
  ! compgen -G '/sys/fs/cgroup/cpu/ll-*' >/dev/null &&
  ! compgen -G '/sys/fs/cgroup/memory/ll-*' >/dev/null
}
all_gone() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" && return 1; done
  return 0
}
within() { awk -v x="$1" -v want="$2" -v tol="$3" 'BEGIN { exit !(x >= want * (1 - tol) && x <= want * (1 + tol)) }'; }

echo "== invalid profile and failing worker are rejected and leave nothing behind"
echo '{"devices": [{"name": "Bad_Name", "memory_budget": "1XB", "bandwidth_mbit": -1}]}' > "$TMP/bad.json"
out=$("$EMU" up "$TMP/bad.json" --worker-cmd "$WCMD" --state-dir "$STATE" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -q 'name must be' <<<"$out" && grep -q 'memory_budget' <<<"$out" && grep -q 'bandwidth_mbit' <<<"$out"; then
  ok "invalid profile rejected with clear errors (exit $rc)"
else bad "invalid profile: exit $rc, output: $out"; fi
echo '{"cpu_emulation": "fast", "devices": [{"name": "a", "memory_budget": "1MiB", "bandwidth_mbit": 1}]}' > "$TMP/bad2.json"
out=$("$EMU" up "$TMP/bad2.json" --worker-cmd "$WCMD" --state-dir "$STATE" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -q 'cpu_emulation must be' <<<"$out"; then ok "unknown cpu_emulation rejected (exit $rc)"
else bad "cpu_emulation fast: exit $rc, output: $out"; fi
echo '{"devices": [{"name": "a", "memory_budget": "1MiB", "bandwidth_mbit": 1, "cpus": "first"}]}' > "$TMP/bad3.json"
out=$("$EMU" up "$TMP/bad3.json" --worker-cmd "$WCMD" --state-dir "$STATE" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -q 'cpus must be a CPU list' <<<"$out"; then ok "malformed cpus rejected (exit $rc)"
else bad "cpus first: exit $rc, output: $out"; fi
echo '{"devices": [{"name": "a", "memory_budget": "1MiB", "bandwidth_mbit": 1, "cpus": "4095"}]}' > "$TMP/bad4.json"
out=$("$EMU" up "$TMP/bad4.json" --worker-cmd "$WCMD" --state-dir "$STATE" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -q 'are not all online' <<<"$out"; then ok "offline cpus rejected (exit $rc)"
else bad "cpus 4095: exit $rc, output: $out"; fi
out=$("$EMU" up "$TMP/profile.json" --worker-cmd 'echo dying; exit 3' --state-dir "$STATE" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -q 'exited (status 3)' <<<"$out"; then ok "worker that dies before READY -> up fails (exit $rc)"
else bad "dying worker: exit $rc, output: $out"; fi
check "failed up removed everything it created" nothing_left

echo "== up"
t0=$SECONDS
addrs=$(timeout 40 "$EMU" up "$TMP/profile.json" --worker-cmd "$WCMD" --state-dir "$STATE" 2>"$TMP/up.err" | tail -1); rc=$?
if [ "$rc" -eq 0 ]; then ok "up succeeded in $((SECONDS - t0)) s (and \$(... | tail -1) returned)"
else bad "up failed (exit $rc):"; sed 's/^/    /' "$TMP/up.err"; echo "$FAIL failed"; exit 1; fi
check "last stdout line is the address list ($addrs)" test "$addrs" = "tcp://10.99.0.11:5555,tcp://10.99.0.12:5555"
J="$STATE/cluster.json"
check "cluster.json: coordinator_ip, 2 devices, required fields" jq -e '
  .coordinator_ip == "10.99.0.1" and (.devices | length) == 2 and
  (.devices[0] | .name == "st-a" and .address == "tcp://10.99.0.11:5555" and (.pid|type) == "number"
                and .cpus == "0"
                and .memory_budget_bytes == 67108864 and .cpu_percent == 50 and .bandwidth_mbit == 20) and
  (.devices[1] | .name == "st-b" and .address == "tcp://10.99.0.12:5555" and .memory_budget_bytes == 104857600)' "$J"
check "bridge llbr0 has 10.99.0.1/24" bash -c "ip -4 -o addr show dev llbr0 | grep -q ' 10.99.0.1/24 '"

for i in 0 1; do
  name=$(jq -r ".devices[$i].name" "$J"); pid=$(jq -r ".devices[$i].pid" "$J"); ip=10.99.0.$((11 + i))
  check "netns ll-$name exists" bash -c "ip netns list | grep -q '^ll-$name\b'"
  check "ll-$name: eth0 has $ip/24 and default route via 10.99.0.1" bash -c \
    "ip -n ll-$name -4 -o addr show dev eth0 | grep -q ' $ip/24 ' && ip -n ll-$name route | grep -q '^default via 10.99.0.1 dev eth0'"
  check "worker pid $pid runs in netns ll-$name" test "$(ip netns identify "$pid")" = "ll-$name"
  check "worker pid $pid is in cgroups cpu:/ll-$name and memory:/ll-$name" bash -c \
    "grep -qE '^[0-9]+:cpu(,cpuacct)?:/ll-$name\$' /proc/$pid/cgroup && grep -q '^[0-9]*:memory:/ll-$name\$' /proc/$pid/cgroup"
  reply=$("$PY" "$TMP/client.py" "$ip" 5555 ping 2>&1)
  check "TCP from root ns to $ip:5555 answers ($reply)" test "$reply" = "PONG $name"
done
pid_a=$(jq -r '.devices[0].pid' "$J")
check "st-a (cpus \"0\") is pinned to CPU 0 ($(taskset -cp "$pid_a" 2>&1))" bash -c \
  "taskset -cp $pid_a | grep -qE 'list: 0\$'"
reply=$(ip netns exec ll-st-a "$PY" "$TMP/client.py" 10.99.0.12 5555 ping 2>&1)
check "TCP device->device (st-a -> 10.99.0.12) answers ($reply)" test "$reply" = "PONG st-b"
# device -> coordinator address: a listener on 10.99.0.1 in the root namespace
"$PY" -c '
import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.1", 5599)); s.listen(1); s.settimeout(10)
c, a = s.accept(); c.sendall(b"PONG coordinator\n"); c.close()' & LISTENER=$!
sleep 0.3
reply=$(ip netns exec ll-st-b "$PY" -c '
import socket; s = socket.create_connection(("10.99.0.1", 5599), timeout=5); print(s.makefile().readline().strip())' 2>&1)
check "TCP device->coordinator (st-b -> 10.99.0.1:5599) answers ($reply)" test "$reply" = "PONG coordinator"
wait "$LISTENER" 2>/dev/null; LISTENER=""

echo "== tc and cgroups"
for spec in "st-a 20Mbit" "st-b 100Mbit"; do
  dev=${spec% *}; rate=${spec#* }
  h=$(tc qdisc show dev "ll-$dev-h"); n=$(ip netns exec "ll-$dev" tc qdisc show dev eth0)
  check "ll-$dev-h (download) root qdisc: $h" grep -q "^qdisc tbf .* root .*rate $rate " <<<"$h"
  check "ll-$dev eth0 (upload) root qdisc: $n" grep -q "^qdisc tbf .* root .*rate $rate " <<<"$n"
done
q_a=$(cat /sys/fs/cgroup/cpu/ll-st-a/cpu.cfs_quota_us); q_b=$(cat /sys/fs/cgroup/cpu/ll-st-b/cpu.cfs_quota_us)
p_a=$(cat /sys/fs/cgroup/cpu/ll-st-a/cpu.cfs_period_us); p_b=$(cat /sys/fs/cgroup/cpu/ll-st-b/cpu.cfs_period_us)
check "cfs quota/period st-a = 1000/2000 ($q_a/$p_a), st-b = 1000/4000 ($q_b/$p_b)" \
  test "$q_a/$p_a.$q_b/$p_b" = "1000/2000.1000/4000"
m_a=$(cat /sys/fs/cgroup/memory/ll-st-a/memory.limit_in_bytes); m_b=$(cat /sys/fs/cgroup/memory/ll-st-b/memory.limit_in_bytes)
check "memory.limit_in_bytes st-a = 64+64+16 MiB = 150994944 ($m_a)" test "$m_a" = 150994944
check "memory.limit_in_bytes st-b = memory_limit_bytes 201326592 ($m_b)" test "$m_b" = 201326592

echo "== cpu: a running device's quota changes and changes back"
quota_of() { echo "$(cat "/sys/fs/cgroup/cpu/ll-$1/cpu.cfs_quota_us")/$(cat "/sys/fs/cgroup/cpu/ll-$1/cpu.cfs_period_us")"; }
json_cpu() { jq -r --arg n "$1" '.devices[] | select(.name == $n) | "\(.cpu_percent) \(.cpu_quota_us)/\(.cpu_period_us)"' "$J"; }
"$EMU" cpu st-a 20 --state-dir "$STATE" >/dev/null 2>&1; rc=$?
check "cpu st-a 20: exit $rc, quota/period 1000/5000 ($(quota_of st-a))" test "$rc.$(quota_of st-a)" = "0.1000/5000"
check "cpu st-a 20: cluster.json has 20 1000/5000 ($(json_cpu st-a))" test "$(json_cpu st-a)" = "20 1000/5000"
check "cpu st-a 20: status shows 20 %" bash -c "'$EMU' status --state-dir '$STATE' | grep -qE '^st-a .* 20 +20 '"
"$EMU" cpu st-a 50 --state-dir "$STATE" >/dev/null 2>&1
check "cpu st-a 50: back to 1000/2000 ($(quota_of st-a), $(json_cpu st-a))" \
  test "$(quota_of st-a) $(json_cpu st-a)" = "1000/2000 50 1000/2000"
"$EMU" cpu st-b 200 --state-dir "$STATE" >/dev/null 2>&1
check "cpu st-b 200 (2 threads, all their cores): unlimited ($(quota_of st-b))" test "$(quota_of st-b)" = "-1/100000"
"$EMU" cpu st-b 25 --state-dir "$STATE" >/dev/null 2>&1
check "cpu st-b 25: back to 1000/4000 ($(quota_of st-b), $(json_cpu st-b))" \
  test "$(quota_of st-b) $(json_cpu st-b)" = "1000/4000 25 1000/4000"
out=$("$EMU" cpu st-x 40 --state-dir "$STATE" 2>&1); rc=$?
check "cpu on an unknown device fails ($out)" bash -c "[ $rc -ne 0 ] && grep -q \"no device 'st-x'\" <<<\"\$1\"" _ "$out"
out=$("$EMU" cpu st-a 0.5 --state-dir "$STATE" 2>&1); rc=$?
check "cpu 0.5 is rejected and changes nothing ($(quota_of st-a))" \
  bash -c "[ $rc -ne 0 ] && grep -q 'PERCENT must be a number >= 1' <<<\"\$1\" && [ '$(quota_of st-a)' = 1000/2000 ]" _ "$out"

echo "== measured shaping (3 MB each way over the 20 Mbit link, 8 MB down the 100 Mbit link)"
down_a=$("$PY" "$TMP/client.py" 10.99.0.11 5555 get 3000000 2>&1)
check "st-a download ${down_a} Mbit/s within 20 +-30%" within "$down_a" 20 0.3
up_a=$("$PY" "$TMP/client.py" 10.99.0.11 5555 put 3000000 2>&1)
check "st-a upload ${up_a} Mbit/s within 20 +-30%" within "$up_a" 20 0.3
down_b=$("$PY" "$TMP/client.py" 10.99.0.12 5555 get 8000000 2>&1)
check "st-b download ${down_b} Mbit/s within 100 +-30%" within "$down_b" 100 0.3

echo "== measured CPU quota (1.5 s busy loop in cgroup ll-st-a, quota 50%)"
share=$( (echo "$BASHPID" > /sys/fs/cgroup/cpu/ll-st-a/cgroup.procs && exec "$PY" -c '
import time
t0 = time.monotonic(); c0 = time.process_time()
while time.monotonic() - t0 < 1.5: pass
print(f"{(time.process_time() - c0) / (time.monotonic() - t0):.2f}")') 2>&1)
check "busy loop got ${share} of a core (want 0.50 +-0.15)" within "$share" 0.5 0.3

# A short burst after idling must be slowed too (the reason for the short CFS period): 20 ms of
# CPU at 25 % cannot finish in less than about 4 x 20 - 3 ms of wall time.
burst=$( (echo "$BASHPID" > /sys/fs/cgroup/cpu/ll-st-b/cgroup.procs && exec "$PY" -c '
import time
time.sleep(0.2)
t0 = time.monotonic(); c0 = time.process_time()
while time.process_time() - c0 < 0.02: pass
print(f"{(time.monotonic() - t0) * 1000:.0f}")') 2>&1)
check "20 ms CPU burst after idle at 25 % took ${burst} ms of wall time (want >= 60)" \
  bash -c "[ '${burst}' -ge 60 ] 2>/dev/null"

echo "== status"
st=$("$EMU" status --state-dir "$STATE" 2>&1); rc=$?
check "status exit 0 with both workers alive" bash -c "[ $rc -eq 0 ] && [ \$(grep -c ' yes ' <<<'$st') -eq 2 ]"
pid_b=$(jq -r '.devices[1].pid' "$J")
kill "$pid_b"; sleep 0.3
st=$("$EMU" status --state-dir "$STATE" 2>&1); rc=$?
check "status exit 1 after killing st-b's worker, reports it dead" bash -c "[ $rc -eq 1 ] && grep -q '^st-b .* no ' <<<'$st'"

echo "== down"
pid_a=$(jq -r '.devices[0].pid' "$J")
out=$("$EMU" down --state-dir "$STATE" 2>&1); rc=$?
check "down exit 0 ($out)" test "$rc" -eq 0
check "nothing named ll-*/llbr0 left (netns, links, cgroups)" nothing_left
check "worker st-a (pid $pid_a) is gone" bash -c "! kill -0 $pid_a 2>/dev/null || grep -q '^State:.*Z' /proc/$pid_a/status"
check "cluster.json removed" test ! -e "$J"
check "down again is a no-op (exit 0)" "$EMU" down --state-dir "$STATE"

echo "== down without a state file removes leftovers"
echo '{"devices": [{"name": "st-c", "memory_budget": "32MiB", "bandwidth_mbit": 50}]}' > "$TMP/one.json"
if "$EMU" up "$TMP/one.json" --worker-cmd "$WCMD" --state-dir "$STATE" >/dev/null 2>&1; then
  rm -f "$STATE/cluster.json"
  check "cpu_percent omitted -> cfs_quota_us = -1" test "$(cat /sys/fs/cgroup/cpu/ll-st-c/cpu.cfs_quota_us 2>/dev/null)" = -1
  check "down with an empty state dir exits 0" "$EMU" down --state-dir "$TMP/empty-state"
  check "leftovers removed" nothing_left
else bad "second up (1 device) failed"; fi

echo "== real worker binary (skipped when none is built)"
BIN="${BIN_ARG:-${LINGUALINKED_BIN:-}}"
if [ -z "$BIN" ]; then
  for c in "$HERE"/../build/*/src/cli/lingualinked; do
    [ -x "$c" ] && { [ -z "$BIN" ] || [ "$c" -nt "$BIN" ]; } && BIN=$c
  done
fi
if [ -n "$BIN" ] && "$BIN" worker --help >/dev/null 2>&1; then
  addrs=$(timeout 40 "$EMU" up "$TMP/profile.json" --binary "$BIN" --state-dir "$STATE" 2>"$TMP/up.err" | tail -1); rc=$?
  if [ "$rc" -eq 0 ]; then
    ok "up with $BIN: workers printed READY ($addrs)"
    for i in 0 1; do
      ip=10.99.0.$((11 + i)); pid=$(jq -r ".devices[$i].pid" "$J")
      check "real worker pid $pid in netns ll-$(jq -r ".devices[$i].name" "$J")" test "$(ip netns identify "$pid")" = "ll-$(jq -r ".devices[$i].name" "$J")"
      check "real worker accepts TCP on $ip:5555" "$PY" -c "import socket; socket.create_connection(('$ip', 5555), timeout=5).close()"
    done
    pids=$(jq -r '.devices[].pid' "$J" | tr '\n' ' ')
    check "down after real workers exits 0" "$EMU" down --state-dir "$STATE"
    check "nothing left after down" nothing_left
    check "real workers ($pids) are gone" all_gone $pids
  else
    bad "up with $BIN failed (exit $rc):"; sed 's/^/    /' "$TMP/up.err"
  fi
else
  echo "skip  no lingualinked binary with a 'worker' subcommand (pass its path as the first argument)"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
