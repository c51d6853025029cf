#!/usr/bin/env bash
# The README's first command ends here: pcloudd and a demo deployable of
# three tiny VMs on the embedded libvirt, driven through pcloudsh as the
# original pacemaker-cloud's acceptance test was, with its failures:
#   1. `killall -9 httpd` typed inside one guest, through its serial console;
#   2. one VM forced off from outside (SIGTERM to its qemu, what a destroy
#      sends first: in embed mode no other process can open the domain).
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

say "pcloudd (state $state, libvirt qemu:///embed)"
if pcloudsh deployable_list >/dev/null 2>&1; then
  echo "pcloudd is running already"
else
  # The tiny JEOS reuses the kernel package the build downloaded.
  PCLOUD_JEOS_DOWNLOADS=$build/jeos/downloads \
    "$pcloudd" --state-dir "$state" --daemonize
  echo "pcloudd started; its log: $state/pcloudd.log"
fi

# pcloudsh shows every event live from here on.
pcloudsh events > >(sed -u 's/^/  [event] /') &
events=$!
trap 'kill $events 2>/dev/null || true' EXIT

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
pcloudsh deployable_list | grep -q '^dep1 .* yes$' || pcloudsh deployable_start dep1
wait_status '^dep1 +ACTIVE'
pcloudsh deployable_status dep1

say "1. killall -9 httpd, typed inside assy2 through its serial console"
printf 'killall -9 httpd\n' | pcloudsh assembly_console assy2 >/dev/null
wait_status 'dep1/assy2/httpdtwo +ACTIVE +[1-9]' 120
echo "httpd in assy2 is running again (the events above say how fast)"

say "2. assy3's VM forced off from outside pcloud (SIGTERM to its qemu)"
kill -TERM "$(cat "$state/libvirt/run/qemu/pcloud-assy3.pid")"
wait_status 'dep1/assy3 +ACTIVE +[1-9]' 300
wait_status 'dep1/assy3/httpdthree +ACTIVE' 120
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
  $sh --state-dir $state deployable_stop dep1
      stops the VMs
  kill \$(cat $state/pcloudd.lock)
      stops pcloudd; the VMs keep running and the next pcloudd adopts them
EOF_HELP
