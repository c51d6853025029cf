#!/usr/bin/env bash
# Recipe of the `debian12` JEOS: Debian 12 (bookworm) with systemd, apache2,
# nginx, postgresql and the OCF agents, booted from a qcow2 disk by the Debian
# cloud kernel and a small busybox initramfs.
#
#   build.sh OUT_DIR [AGENT_DIR]
#
# Writes OUT_DIR/{vmlinuz,initrd.img,disk.qcow2,cmdline,defaults,stamp}.
# Each assembly boots a copy-on-write overlay of disk.qcow2. AGENT_DIR holds
# pcloud-agent (usr/bin/pcloud-agent); its libraries come from Debian's
# packages. Two stages: the Debian base (debootstrap plus packages, about a
# minute) is cached by base.sh's checksum in $PCLOUD_JEOS_CACHE (default
# /var/cache/pcloud/jeos, shared by every build on the machine); the image on
# top (kernel modules, pcloud's files, the agent) takes seconds. Builds into
# a temporary directory and renames it into place; unchanged inputs are
# skipped (OUT_DIR/stamp).
set -euo pipefail

out=${1:?usage: build.sh OUT_DIR [AGENT_DIR]}
agent_dir=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
downloads=${PCLOUD_JEOS_DOWNLOADS:-$(dirname "$out")/downloads}
cache=${PCLOUD_JEOS_CACHE:-/var/cache/pcloud/jeos}
mkdir -p "$downloads" "$(dirname "$out")" "$cache"

recipe=debian12
. "$here/../common.sh"
need debootstrap; need mkfs.ext4; need qemu-img; need cpio; need depmod; need dpkg-deb
need grub-mkimage; [ -f /usr/lib/grub/i386-pc/boot.img ] || { echo "debian12: needs grub-pc-bin (run ./setup)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "debian12: debootstrap needs root" >&2; exit 1; }
agent=
if [ -n "$agent_dir" ]; then
  agent=$agent_dir/usr/bin/pcloud-agent
  [ -x "$agent" ] || { echo "debian12: no pcloud-agent in $agent_dir" >&2; exit 1; }
fi
kpkg=$(kernel_package)

# The mirror apt uses on this host (the archive the packages came from).
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs: *http[^ ]*debian\/?$/ && !n++ {sub(/\/$/, "", $2); print $2}' || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" && !n++ {print $2}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

base_key=$( (sha256sum "$here/base.sh" | cut -d' ' -f1; echo "$mirror") | sha256sum | cut -c1-16)
base=$cache/debian12-base-$base_key.tar

inputs() {
  echo "$base_key"
  sha256sum "$0" "$here/../common.sh" "$here/init" /bin/busybox | cut -d' ' -f1
  (cd "$here/rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  echo "$kpkg"
  [ -z "$agent" ] || sha256sum "$agent" | cut -d' ' -f1
}
key=$(inputs | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ]; then
  echo "debian12: up to date ($out)"
  exit 0
fi

started=$(date +%s)
step() { echo "debian12: [$(($(date +%s) - started))s] $*"; }

# One base build at a time on this machine: other pcloudds and test runs
# share the cache and wait here for the one that builds.
exec 9>"$cache/.debian12-base.lock"
flock 9
if [ ! -f "$base" ]; then
  step "building the Debian base (cached as $base)"
  bash "$here/base.sh" "$base" "$mirror"
  # Bases of older versions of base.sh are of no further use.
  find "$cache" -maxdepth 1 -name 'debian12-base-*.tar' ! -name "$(basename "$base")" -delete
else
  step "Debian base from the cache ($base)"
fi
exec 9>&-

work=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"
step "unpacking the base"
tar -C "$root" --numeric-owner -xf "$base"
chmod 0755 "$root"

kver=$(unpack_kernel "$kpkg" "$work/kernel")
step "kernel $kver: modules"
# The modules systemd and a virtio guest use, no others: udev would load
# every driver it finds a device for.
copy_modules "$work/kernel" "$kver" "$root" "${virtio_modules[@]}" fs/autofs/autofs4 fs/configfs/configfs

step "pcloud's files and the agent"
cp -a "$here/rootfs/." "$root/"
if [ -n "$agent" ]; then
  install -m 0755 "$agent" "$root/usr/bin/pcloud-agent"
  systemctl --root="$root" enable pcloud-agent.service >/dev/null 2>&1
fi
systemctl --root="$root" enable pcloud-network.service systemd-networkd.service >/dev/null 2>&1
# A first boot would ask on the console for a locale and a root password.
systemctl --root="$root" mask systemd-firstboot.service >/dev/null 2>&1
# The kernel has no binfmt_misc module here: its units would only fail.
systemctl --root="$root" mask proc-sys-fs-binfmt_misc.automount systemd-binfmt.service >/dev/null 2>&1
# Each boot makes its own machine id: clones share this disk, and DHCP
# identifies a guest by it.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow" # root logs in on the console
echo "pcloud: $kver" > "$root/etc/pcloud-jeos"
# What the httpd and nginx templates serve, like the tiny JEOS's page.
mkdir -p "$root/var/www/html"
echo "pcloud-debian12" > "$root/var/www/html/index.html"

step "initramfs"
initrd=$work/initrd
busybox_tree "$initrd"
copy_modules "$work/kernel" "$kver" "$initrd" "${virtio_modules[@]}"
install -m 0755 "$here/init" "$initrd/init"
mkdir -p "$work/image" "$root/boot"
cpio_gz "$initrd" "$work/image/initrd.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/image/vmlinuz"
# Also inside the disk, for firmware boot (a disk exported and imported
# elsewhere with jeos_import boots without pcloud's kernel).
cp "$work/image/vmlinuz" "$work/image/initrd.img" "$root/boot/"
cmdline="console=ttyS0 root=/dev/vda1 net.ifnames=0 quiet"

step "disk image"
# One partition from 1 MiB; GRUB's boot sector in the MBR and its core image
# in the gap before the partition, with the boot commands built in.
disk_mib=4096
truncate -s ${disk_mib}M "$work/disk.raw"
mkfs.ext4 -q -F -L pcloud-root -E offset=$((1 << 20)) -d "$root" "$work/disk.raw" $((disk_mib - 1))M
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
{
  printf '\x80\xfe\xff\xff\x83\xfe\xff\xff'
  printf "$(le32 2048)$(le32 $(((disk_mib - 1) * 2048)))"
} | dd of="$work/disk.raw" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$work/disk.raw" bs=1 seek=510 conv=notrunc status=none
printf 'set root=(hd0,msdos1)\nlinux /boot/vmlinuz %s\ninitrd /boot/initrd.img\nboot\n' "$cmdline" > "$work/grub.cfg"
grub-mkimage -O i386-pc -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' -c "$work/grub.cfg" \
  biosdisk part_msdos ext2 linux
dd if=/usr/lib/grub/i386-pc/boot.img of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$work/disk.raw" bs=512 seek=1 conv=notrunc status=none
qemu-img convert -O qcow2 "$work/disk.raw" "$work/image/disk.qcow2"
rm -f "$work/disk.raw"

echo "$cmdline" > "$work/image/cmdline"
# Assemblies made from this JEOS start with these (systemd under TCG needs
# more memory and time than busybox: 12-28 s to multi-user here).
printf 'memory_mib=512\nvcpus=2\nboot_timeout_s=240\n' > "$work/image/defaults"
echo "$key" > "$work/image/stamp"
install_image "$work/image" "$out"
step "built $out (disk $(du -h "$out/disk.qcow2" | cut -f1), initrd $(du -h "$out/initrd.img" | cut -f1))"
