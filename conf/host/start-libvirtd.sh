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
# A libvirtd started for the first time on a machine probes QEMU's
# capabilities before it answers: more than 10 s here.
deadline=$(( $(date +%s) + 120 ))
until timeout 30 virsh -c qemu:///system version >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "start-libvirtd: libvirtd does not answer on qemu:///system after 120 s" \
         "(see /var/log/libvirt/libvirtd.log)" >&2
    exit 1
  fi
  sleep 0.2
done
