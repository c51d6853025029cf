# Shared by the JEOS recipes (sourced, not run): the Debian cloud kernel and
# the busybox initramfs helpers. Expects $downloads and a name in $recipe.

need() { command -v "$1" >/dev/null || { echo "$recipe: missing $1 (run ./setup)" >&2; exit 1; }; }

# The kernel: whatever linux-image-cloud-amd64 depends on today.
kernel_package() {
  local kpkg
  # awk reads to the end: an early exit could kill apt-cache with SIGPIPE,
  # which pipefail would turn into a failure.
  kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ && !n++ {print $2}')
  if [ -z "$kpkg" ]; then
    apt-get update -q >/dev/null
    kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ && !n++ {print $2}')
  fi
  [ -n "$kpkg" ] || { echo "$recipe: cannot find the Debian cloud kernel package" >&2; exit 1; }
  echo "$kpkg"
}

# unpack_kernel PACKAGE DIR: downloads the package once (never installs it on
# the host) and unpacks it into DIR; prints the kernel version.
unpack_kernel() {
  local kpkg=$1 dir=$2 deb
  deb=$(ls "$downloads"/"${kpkg}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    (cd "$downloads" && apt-get download -q "$kpkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    deb=$(ls "$downloads"/"${kpkg}"_*.deb | head -1)
  fi
  dpkg-deb -x "$deb" "$dir"
  ls "$dir/lib/modules" | head -1
}

# copy_modules KERNEL_DIR VERSION ROOT MODULE...: the named modules
# (paths under kernel/, without .ko) and a modules.dep for them.
copy_modules() {
  local from=$1/lib/modules/$2 kver=$2 root=$3 m f
  shift 3
  mkdir -p "$root/lib/modules/$kver"
  for m in "$@"; do
    for f in "$from/kernel/$m".ko*; do
      [ -e "$f" ] || continue
      mkdir -p "$root/lib/modules/$kver/kernel/$(dirname "$m")"
      cp "$f" "$root/lib/modules/$kver/kernel/$(dirname "$m")/"
    done
  done
  cp "$from"/modules.builtin* "$from"/modules.order "$root/lib/modules/$kver/" 2>/dev/null || true
  depmod -b "$root" "$kver"
}

# What every virtio guest needs: console channel, disk, network, the ACPI
# power button (a graceful shutdown from the host) and fw_cfg (the boot
# settings of an agent that reaches pcloudd over TCP).
virtio_modules=(
  drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev
  drivers/char/virtio_console drivers/block/virtio_blk drivers/net/virtio_net
  drivers/net/net_failover net/core/failover
  drivers/acpi/button drivers/input/evdev drivers/firmware/qemu_fw_cfg
)

# busybox_tree ROOT: busybox-static and a link for each of its applets.
busybox_tree() {
  local root=$1 applet
  mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
}

# cpio_gz ROOT FILE
cpio_gz() {
  (cd "$1" && find . | cpio -o -H newc --quiet | gzip -6) > "$2"
}

# install_image WORK_IMAGE OUT: renames a finished image into place, so a
# half-built one never shows as usable.
install_image() {
  chmod 0755 "$1"
  chmod 0644 "$1"/*
  rm -rf "$2.old"
  [ -d "$2" ] && mv "$2" "$2.old"
  mv "$1" "$2"
  rm -rf "$2.old"
}
