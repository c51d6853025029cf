#!/usr/bin/env bash
# Starts virtlogd and libvirtd by hand on a host where systemd is not PID 1
# (containers, build machines), for qemu:///system. Where systemd runs, use
# `systemctl start libvirtd` instead. Idempotent; waits until libvirtd answers.
#   start-libvirtd.sh [--daemons-only]
# --daemons-only (the tests): leave libvirt's networks as they are. Tests
# make networks of their own and never start or change the host's `default`.
set -euo pipefail
daemons_only=false
if [ "${1:-}" = --daemons-only ]; then
  daemons_only=true
fi
# libvirt's NAT network `default` (a bridge, dnsmasq, NAT rules), which
# assemblies on qemu:///system join unless they name another: started if it
# is defined and not running, and started with libvirtd from now on.
start_default_network() {
  $daemons_only && return 0
  local v="virsh -q -c qemu:///system"
  $v net-info default >/dev/null 2>&1 || return 0
  if ! $v net-info default 2>/dev/null | grep '^Active: *yes' >/dev/null; then
    local err
    err=$($v net-start default 2>&1 >/dev/null) \
      || echo "start-libvirtd: libvirt's network 'default' did not start: $err" >&2
  fi
  $v net-autostart default >/dev/null 2>&1 || true
}
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  systemctl start virtlogd libvirtd
  start_default_network
  exit 0
fi
# Without systemd this is a container, a chroot or a build machine: libvirt's
# private /dev per QEMU cannot give the serial console its pty there
# ("Failed to create PTY"), as pcloud's embed roots found too.
conf=/etc/libvirt/qemu.conf
if [ -f "$conf" ] && ! grep -q '^namespaces *=' "$conf"; then
  printf '\n# pcloud (conf/host/start-libvirtd.sh): no private /dev per QEMU without systemd\nnamespaces = []\n' >> "$conf"
  # A libvirtd already running read the old file: it must start again.
  pid=$(cat /run/libvirtd.pid 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ]; then
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
fi
answers() { timeout 30 virsh -c qemu:///system version >/dev/null 2>&1; }
answers && { start_default_network; exit 0; }
mkdir -p /var/log/libvirt /var/run/libvirt
# Not `pidof`: it also sees the daemons of other roots and containers on this
# kernel (a chroot's setup then waited for a libvirtd that was not its own).
# A daemon of ours already running holds its pid file, and the second one
# exits at once.
virtlogd -d 2>/dev/null || true
libvirtd -d 2>/dev/null || true
# A libvirtd started for the first time on a machine probes QEMU's
# capabilities before it answers.
deadline=$(( $(date +%s) + 120 ))
until answers; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "start-libvirtd: libvirtd does not answer on qemu:///system after 120 s" \
         "(see /var/log/libvirt/libvirtd.log)" >&2
    exit 1
  fi
  sleep 0.2
done
start_default_network
