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

recipe=tiny
. "$here/../common.sh"
need cpio; need depmod; need dpkg-deb
busybox=/bin/busybox
# Not `busybox --list | grep -q`: grep's early exit would kill busybox with
# SIGPIPE, which pipefail turns into a failed build now and then.
applets=$("$busybox" --list 2>/dev/null || true)
grep -qx init <<<"$applets" || { echo "tiny: needs busybox-static (run ./setup)" >&2; exit 1; }
kpkg=$(kernel_package)

inputs() {
  sha256sum "$0" "$here/../common.sh" "$here/inittab" "$here/rcS" "$here/udhcpc.script" "$busybox" | cut -d' ' -f1
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

work=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
kver=$(unpack_kernel "$kpkg" "$work/kernel")
root="$work/root"
busybox_tree "$root"
mkdir -p "$root"/{etc/init.d,root,var/log,usr/bin,usr/lib}
ln -s ../bin/busybox "$root/sbin/init"
ln -s bin/busybox "$root/init" # the kernel runs /init from an initramfs
copy_modules "$work/kernel" "$kver" "$root" "${virtio_modules[@]}"

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

cpio_gz "$root" "$work/initrd.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
echo "$key" > "$work/stamp"
mkdir -p "$work/image"
mv "$work/vmlinuz" "$work/initrd.img" "$work/stamp" "$work/image/"
install_image "$work/image" "$out"
echo "tiny: built $out (kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1))"
