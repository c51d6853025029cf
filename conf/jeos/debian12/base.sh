#!/usr/bin/env bash
# The slow, cached stage of the debian12 JEOS: a minimal Debian 12 (bookworm)
# with systemd, and the software the resource templates run, as a tar file.
#
#   base.sh OUT_TAR MIRROR
#
# The image recipe (build.sh) keys the tar by this file's checksum, so a change
# here rebuilds the base and nothing else does. Services are installed
# disabled: pcloud-agent starts them when the host says so, and pcloud, not
# systemd, restarts them (see build.sh's drop-ins).
set -euo pipefail
out=${1:?usage: base.sh OUT_TAR MIRROR}
mirror=${2:?usage: base.sh OUT_TAR MIRROR}

# What the templates in conf/templates use, plus what an operator on the
# serial console expects (ps, killall, ip, less).
packages=(
  apache2 nginx postgresql resource-agents
  libqpid-proton-cpp12 # pcloud-agent's only library outside libc and libstdc++
  procps psmisc iproute2 less
)

root=$(mktemp -d "${out}.root.XXXXXX")
chmod 0755 "$root" # the guest's /: services that are not root must get through
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

step() { echo "debian12: $*"; }

step "debootstrap bookworm from $mirror (about a minute)"
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,kmod,dbus,busybox,ca-certificates \
  bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -5 "$root.log" >&2
  echo "debian12: debootstrap failed (full log: $root.log)" >&2
  exit 1
}
rm -f "$root.log"

step "installing ${packages[*]}"
# No service may start inside the build: policy-rc.d refuses every start.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
  apt-get install -y -q --no-install-recommends "${packages[@]}" >"$out.apt.log" 2>&1 || {
  tail -5 "$out.apt.log" >&2
  echo "debian12: package installation failed (full log: $out.apt.log)" >&2
  exit 1
}
rm -f "$out.apt.log"
# The cluster postgresql-15's postinst would have made, had services been
# allowed to start; reachable through the port forward (QEMU connects from
# 10.0.2.2 to 10.0.2.15), password logins only.
if [ ! -d "$root/etc/postgresql/15/main" ]; then
  chroot "$root" env LC_ALL=C pg_createcluster 15 main >/dev/null
fi
sed -i "s/^#listen_addresses = 'localhost'/listen_addresses = '*'/" "$root/etc/postgresql/15/main/postgresql.conf"
echo "host all all 0.0.0.0/0 scram-sha-256" >>"$root/etc/postgresql/15/main/pg_hba.conf"
umount "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"
# Installed, not enabled: the agent starts them (and two of them want port 80).
systemctl --root="$root" disable apache2.service nginx.service postgresql.service >/dev/null 2>&1 || true
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/*

step "packing the base"
tar -C "$root" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
step "base ready: $(du -h "$out" | cut -f1)"
