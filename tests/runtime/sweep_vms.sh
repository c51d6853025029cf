#!/usr/bin/env bash
# Kills the emulated guests a crashed test run left behind (they would eat
# both cores) and removes their directories. Runs before the VM tests.
set -u
for pidfile in /tmp/pcloud-vm-test-*/root/run/qemu/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile" 2>/dev/null) || continue
  if [ -n "$pid" ] && grep -q qemu "/proc/$pid/comm" 2>/dev/null; then
    echo "sweep: killing leftover qemu $pid ($pidfile)"
    kill -9 "$pid" 2>/dev/null || true
  fi
done
for dir in /tmp/pcloud-vm-test-*; do
  [ -d "$dir" ] || continue
  owner=${dir#/tmp/pcloud-vm-test-}; owner=${owner%%-*}
  # Leave the directories of test processes that still run.
  if ! kill -0 "$owner" 2>/dev/null; then
    rm -rf "$dir"
  fi
done
# qemu:///system domains of test processes that are gone.
if pidof libvirtd >/dev/null 2>&1; then
  for dom in $(virsh -q -c qemu:///system list --name 2>/dev/null | grep '^pcloud-systest'); do
    owner=${dom#pcloud-systest}
    if ! kill -0 "$owner" 2>/dev/null; then
      echo "sweep: destroying leftover domain $dom"
      virsh -q -c qemu:///system destroy "$dom" >/dev/null 2>&1 || true
    fi
  done
fi
exit 0
