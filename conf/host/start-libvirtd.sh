#!/usr/bin/env bash
# Starts virtlogd and libvirtd by hand on a host where systemd is not PID 1
# (containers, build machines), for qemu:///system. Where systemd runs, use
# `systemctl start libvirtd` instead. Idempotent; waits until libvirtd answers.
set -euo pipefail
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  systemctl start virtlogd libvirtd
  exit 0
fi
mkdir -p /var/log/libvirt /var/run/libvirt
pidof virtlogd >/dev/null || virtlogd -d
pidof libvirtd >/dev/null || libvirtd -d
for _ in $(seq 1 100); do
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.1
done
echo "start-libvirtd: libvirtd does not answer on qemu:///system" >&2
exit 1
