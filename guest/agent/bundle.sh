#!/usr/bin/env bash
# Lays out pcloud-agent with exactly the shared libraries it needs, for a
# guest image without a distribution underneath (the tiny JEOS):
#
#   bundle.sh AGENT OUT_DIR
#
# OUT_DIR/usr/bin/pcloud-agent plus its ldd closure under OUT_DIR/lib and the
# dynamic loader; the image recipe copies OUT_DIR over its root. Debian ships
# qpid-proton only as shared libraries, so this is ~11 MB (libcrypto alone
# is 4.7 MB: proton links it for TLS, which the agent never uses).
set -euo pipefail
agent=${1:?usage: bundle.sh AGENT OUT_DIR}
out=${2:?usage: bundle.sh AGENT OUT_DIR}
rm -rf "$out.tmp"
mkdir -p "$out.tmp/usr/bin"
strip -o "$out.tmp/usr/bin/pcloud-agent" "$agent"
ldd "$agent" | awk '/=>/ {print $3} /^\t\/lib64\// {print $1}' | while read -r lib; do
  [ -n "$lib" ] || continue
  dest="$out.tmp$(dirname "$lib")"
  mkdir -p "$dest"
  cp -L "$lib" "$dest/"
done
rm -rf "$out"
mv "$out.tmp" "$out"
echo "bundle: $(du -sh "$out" | cut -f1) in $out"
