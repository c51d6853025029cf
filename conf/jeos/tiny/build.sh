#!/usr/bin/env bash
# Recipe of the `tiny` JEOS: a Debian cloud kernel plus a busybox initramfs
# that boots to a shell on the serial console in a few seconds under TCG.
#
#   build.sh OUT_DIR [AGENT_DIR]
#
# Writes OUT_DIR/vmlinuz and OUT_DIR/initrd.img. AGENT_DIR, when given, holds
# pcloud-agent and the libraries it needs, copied into the image. Builds into a
# temporary directory and renames it into place, so a half-built image never
# shows as usable; a build whose inputs are unchanged is skipped (OUT_DIR/stamp).
# The kernel package is downloaded (never installed on the host) and cached
# in $PCLOUD_JEOS_DOWNLOADS, else OUT_DIR/../downloads.
set -euo pipefail

out=${1:?usage: build.sh OUT_DIR [AGENT_DIR]}
agent_dir=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
downloads=${PCLOUD_JEOS_DOWNLOADS:-$(dirname "$out")/downloads}
mkdir -p "$downloads" "$(dirname "$out")"

need() { command -v "$1" >/dev/null || { echo "tiny: missing $1 (run ./setup)" >&2; exit 1; }; }
need cpio; need depmod; need dpkg-deb
busybox=/bin/busybox
applets=$("$busybox" --list 2>/dev/null || true)
grep -qx init <<<"$applets" || { echo "tiny: needs busybox-static (run ./setup)" >&2; exit 1; }

# The kernel: whatever linux-image-cloud-amd64 depends on today.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$kpkg" ]; then
  apt-get update -q >/dev/null
  kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
fi
[ -n "$kpkg" ] || { echo "tiny: cannot find the Debian cloud kernel package" >&2; exit 1; }

inputs() {
  sha256sum "$0" "$here/inittab" "$here/rcS" "$here/udhcpc.script" "$busybox" | cut -d' ' -f1
  echo "$kpkg"
  if [ -n "$agent_dir" ]; then
    (cd "$agent_dir" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
  fi
}
key=$(inputs | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ]; then
  echo "tiny: up to date ($out)"
  exit 0
fi

deb=$(ls "$downloads"/"${kpkg}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  (cd "$downloads" && apt-get download -q "$kpkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  deb=$(ls "$downloads"/"${kpkg}"_*.deb | head -1)
fi

work=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/kernel"
kver=$(ls "$work/kernel/lib/modules" | head -1)
root="$work/root"
mkdir -p "$root"/{bin,sbin,etc/init.d,proc,sys,dev,run,tmp,root,var/log,lib/modules/$kver,usr/bin,usr/lib}

# busybox and its applets
cp "$busybox" "$root/bin/busybox"
for applet in $applets; do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -s ../bin/busybox "$root/sbin/init"
ln -s bin/busybox "$root/init" # the kernel runs /init from an initramfs

# Only the modules a virtio guest needs: console channel, disk, network, and
# the ACPI power button (a graceful shutdown from the host).
mods=$work/kernel/lib/modules/$kver
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci \
         drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev \
         drivers/char/virtio_console drivers/block/virtio_blk drivers/net/virtio_net \
         drivers/net/net_failover net/core/failover \
         drivers/acpi/button drivers/input/evdev; do
  for f in "$mods/kernel/$m".ko*; do
    [ -e "$f" ] || continue
    mkdir -p "$root/lib/modules/$kver/kernel/$(dirname "$m")"
    cp "$f" "$root/lib/modules/$kver/kernel/$(dirname "$m")/"
  done
done
cp "$mods"/modules.builtin* "$mods"/modules.order "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"

cp "$here/inittab" "$root/etc/inittab"
# busybox acpid runs CONFDIR/PWRF/00000080 on a power button press.
mkdir -p "$root/etc/acpi/PWRF"
printf '#!/bin/sh\nexec poweroff\n' > "$root/etc/acpi/PWRF/00000080"
chmod 0755 "$root/etc/acpi/PWRF/00000080"
install -m 0755 "$here/rcS" "$root/etc/init.d/rcS"
install -m 0755 "$here/udhcpc.script" "$root/etc/udhcpc.script"
echo "root::0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
echo "pcloud-tiny" > "$root/etc/hostname"

if [ -n "$agent_dir" ]; then
  cp -a "$agent_dir"/. "$root/"
fi

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -6) > "$work/initrd.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
echo "$key" > "$work/stamp"
mkdir -p "$work/image"
mv "$work/vmlinuz" "$work/initrd.img" "$work/stamp" "$work/image/"
chmod 0755 "$work/image"; chmod 0644 "$work/image"/*
rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$work/image" "$out"
rm -rf "$out.old"
echo "tiny: built $out (kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1))"
