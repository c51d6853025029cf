#!/usr/bin/env bash
# The README's first command ends here: pcloudd and a demo deployable of
# three tiny VMs on the embedded libvirt, driven through pcloudsh as the
# original pacemaker-cloud's acceptance test was, with its failures:
#   1. `killall -9 httpd` typed inside one guest, through its serial console;
#   1b. `killall -STOP httpd` in the same guest: hung, found by its probe;
#   2. one VM forced off from outside (SIGTERM to its qemu, what a destroy
#      sends first: in embed mode no other process can open the domain);
#   3. httpd killed past its escalation limit: the VM is restarted;
#   4. pcloudd killed with SIGKILL and started again: it adopts the VMs.
# curl asks every httpd from the host, through its port forward, before and
# after each failure.
# pcloudd stays running with the deployable up; the end says how to look
# at it and how to stop it.
#
#   conf/demo.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR}
build=$(cd "$build" && pwd)
state=${PCLOUD_DEMO_STATE:-/var/lib/pcloud}
pcloudd=$build/runtime/pcloudd
pcloudsh() { "$build/shell/pcloudsh" --state-dir "$state" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Waits up to $2 seconds for deployable_status to match the regex $1.
wait_status() {
  local pattern=$1 deadline=$(( $(date +%s) + ${2:-300} ))
  until pcloudsh deployable_status dep1 | grep -Eq "$pattern"; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      echo "demo: timed out waiting for: $pattern" >&2
      pcloudsh deployable_status dep1 >&2 || true
      exit 1
    fi
    sleep 1
  done
}

# The host port an assembly's httpd answers on, as assembly_list shows it.
port_of() {
  pcloudsh assembly_list | awk -v a="$1" '$1 == a && match($0, /127\.0\.0\.1:[0-9]+ -> 80/) {
    print substr($0, RSTART + 10, RLENGTH - 16) }'
}

# curl, from the host, every httpd of the deployable.
curl_all() {
  local a port
  for a in assy1 assy2 assy3; do
    port=$(port_of "$a")
    printf '  curl http://127.0.0.1:%s/  (%s) -> %s\n' "$port" "$a" \
      "$(curl -s -m 2 "http://127.0.0.1:$port/" || echo 'no answer')"
  done
}

# Waits until assembly $1's httpd answers from the host.
wait_http() {
  local port deadline=$(( $(date +%s) + 300 ))
  port=$(port_of "$1")
  until curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/"; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      echo "demo: $1's httpd does not answer on port $port" >&2
      exit 1
    fi
    sleep 0.02
  done
}

# A client of assembly $1's httpd on the host: asks every 20 ms, one line
# per answer ("MILLISECONDS ok|down"), until probe_report.
probe_start() {
  local port
  port=$(port_of "$1")
  probe_log=$(mktemp)
  (
    while :; do
      if curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/"; then r=ok; else r=down; fi
      echo "$(date +%s%3N) $r"
      sleep 0.02
    done
  ) > "$probe_log" &
  probe=$!
  # Its first answer before the failure starts.
  until grep -q ' ok$' "$probe_log"; do sleep 0.02; done
}

# What that client saw: from its last answer before the failure to its first
# one after it.
probe_report() {
  kill "$probe" 2>/dev/null || true
  wait "$probe" 2>/dev/null || true
  awk -v who="$1" '
    $2 == "ok" && !down { last = $1 }
    $2 == "down" && !down { down = 1 }
    $2 == "ok" && down && !back { back = $1 }
    END {
      if (!down) printf "  curl (every 20 ms): %s answered every request: the restart fell between two\n", who
      else printf "  curl (every 20 ms): %s did not answer for %d ms\n", who, back - last
    }' "$probe_log"
  rm -f "$probe_log"
}

say "pcloudd (state $state, libvirt qemu:///embed)"
if pcloudsh deployable_list >/dev/null 2>&1; then
  echo "pcloudd is running already"
else
  # The tiny JEOS reuses the kernel package the build downloaded.
  PCLOUD_JEOS_DOWNLOADS=$build/jeos/downloads \
    "$pcloudd" --state-dir "$state" --daemonize
  echo "pcloudd started; its log: $state/pcloudd.log"
fi

# pcloudsh shows every event live from here on (again after step 4, where
# pcloudd goes away and comes back).
follow_events() {
  pcloudsh events > >(sed -u 's/^/  [event] /') &
  events=$!
}
follow_events
trap 'kill $events ${probe:-} 2>/dev/null || true' EXIT

if pcloudsh deployable_list | grep -q '^dep1 '; then
  say "the demo deployable exists already"
else
  say "the original's script, through pcloudsh"
  pcloudsh <<'SCRIPT'
jeos_create tiny x86_64
assembly_create assy1 tiny x86_64
assembly_clone assy1 assy2
assembly_clone assy1 assy3
assembly_resource_add httpdone httpd assy1
assembly_resource_add httpdtwo httpd assy2
assembly_resource_add httpdthree httpd assy3
deployable_create dep1
deployable_assembly_add dep1 assy1
deployable_assembly_add dep1 assy2
deployable_assembly_add dep1 assy3
SCRIPT
fi
if [ -z "$(port_of assy1)" ]; then
  # Defined by a demo from before guest networking: no port forwards yet.
  say "dep1 was defined before guest networking: giving its httpds host ports"
  if pcloudsh deployable_list | grep -q '^dep1 .* yes$'; then
    pcloudsh deployable_stop dep1
  fi
  pcloudsh assembly_port_set assy1 httpdone 80
  pcloudsh assembly_port_set assy2 httpdtwo 80
  pcloudsh assembly_port_set assy3 httpdthree 80
fi
pcloudsh deployable_list | grep -q '^dep1 .* yes$' || pcloudsh deployable_start dep1
wait_status '^dep1 +ACTIVE'
pcloudsh deployable_status dep1
say "the httpds, asked from the host through their port forwards"
for a in assy1 assy2 assy3; do wait_http "$a"; done
curl_all

say "1. killall -9 httpd, typed inside assy2 through its serial console"
probe_start assy2
printf 'killall -9 httpd\n' | pcloudsh assembly_console assy2 >/dev/null
wait_status 'dep1/assy2/httpdtwo +ACTIVE +[1-9]' 120
wait_http assy2
probe_report assy2
curl_all

say "1b. httpd hung in assy2 (killall -STOP): alive but silent, its probe notices"
probe_start assy2
printf 'killall -STOP httpd\n' | pcloudsh assembly_console assy2 >/dev/null
wait_status 'dep1/assy2/httpdtwo +ACTIVE +([2-9]|[1-9][0-9])' 120
wait_http assy2
probe_report assy2
curl_all

say "2. assy3's VM forced off from outside pcloud (SIGTERM to its qemu)"
probe_start assy3
kill -TERM "$(cat "$state/libvirt/run/qemu/pcloud-assy3.pid")"
wait_status 'dep1/assy3 +ACTIVE +[1-9]' 300
wait_status 'dep1/assy3/httpdthree +ACTIVE' 120
wait_http assy3
probe_report assy3
curl_all

say "3. httpd killed in assy1 six times: past its limit (5 in 60s), pcloud restarts the VM"
for kill in 1 2 3 4 5; do
  printf 'killall -9 httpd\n' | pcloudsh assembly_console assy1 >/dev/null
  # Each restart after the first waits the restart delay (500 ms).
  wait_status "dep1/assy1/httpdone +ACTIVE +$kill( |\$)" 120
done
probe_start assy1
# The sixth: the VM goes down at once, and with it the console session.
printf 'killall -9 httpd\n' | pcloudsh assembly_console assy1 >/dev/null 2>&1 || true
wait_status 'dep1/assy1 +ACTIVE +[1-9]' 300
wait_status 'dep1/assy1/httpdone +ACTIVE' 120
wait_http assy1
probe_report assy1
curl_all

say "4. pcloudd killed with SIGKILL and started again: it adopts the running VMs"
qemu_pids() {
  for f in "$state"/libvirt/run/qemu/pcloud-assy*.pid; do cat "$f"; echo; done |
    sort | tr '\n' ' '
}
before=$(qemu_pids)
daemon=$(cat "$state/pcloudd.lock")
kill -9 "$daemon"
while kill -0 "$daemon" 2>/dev/null; do sleep 0.1; done
kill $events 2>/dev/null || true
PCLOUD_JEOS_DOWNLOADS=$build/jeos/downloads \
  "$pcloudd" --state-dir "$state" --daemonize
follow_events
wait_status '^dep1 +ACTIVE'
after=$(qemu_pids)
if [ "$before" = "$after" ]; then
  echo "  the same qemu processes run (pids ${after% }): no VM was restarted"
else
  echo "demo: VMs were restarted across the pcloudd restart ($before -> $after)" >&2
  exit 1
fi
curl_all
pcloudsh deployable_status dep1

sleep 1
say "pcloud keeps dep1 running"
sh=$build/shell/pcloudsh
cat <<EOF_HELP
  $sh --state-dir $state
      interactive: live events, Tab completion, 'help'
  $sh --state-dir $state deployable_status dep1
  $sh --state-dir $state assembly_console assy1
      a guest's shell (Ctrl-] detaches)
  curl http://127.0.0.1:$(port_of assy1)/
      assy1's httpd, through its port forward (assembly_list shows them all)
  $sh --state-dir $state deployable_stop dep1
      stops the VMs
  kill \$(cat $state/pcloudd.lock)
      stops pcloudd; the VMs keep running and the next pcloudd adopts them
EOF_HELP
