#!/usr/bin/env bash
# Builds, without any registry, the images kubelite itself runs:
#   busybox:latest          Debian's static busybox with a symlink per applet (sh, httpd, nc, sleep, ...)
#   kubelite/pause:3.9      the pod sandbox: holds the pod's network namespace and sleeps
# Idempotent: an image that already exists is left alone unless --force is given.
set -euo pipefail

force=0
[ "${1:-}" = "--force" ] && force=1

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

busybox_bin=/bin/busybox
if ! "$busybox_bin" --list 2>/dev/null | grep -qx httpd; then
  busybox_bin=""
fi
if [ -z "$busybox_bin" ]; then
  if [ -x /usr/bin/busybox ] && /usr/bin/busybox --list | grep -qx httpd; then
    busybox_bin=/usr/bin/busybox
  else
    echo "images: busybox-static is not installed (apt-get install busybox-static)" >&2
    exit 1
  fi
fi
if ! file -L "$busybox_bin" 2>/dev/null | grep -q "statically linked" && ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "images: $busybox_bin is not a static binary; install busybox-static" >&2
  exit 1
fi

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

make_rootfs() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,var/www,root,proc,sys,dev,home}
  chmod 1777 "$root/tmp"
  cp "$busybox_bin" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf /bin/busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  printf '<html><body><h1>kubelite</h1></body></html>\n' >"$root/var/www/index.html"
}

if [ $force = 1 ] || ! have_image busybox:latest; then
  make_rootfs "$workdir/busybox"
  tar -C "$workdir/busybox" -c . | docker import \
    --change 'CMD ["sh"]' \
    --change 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
    - busybox:latest >/dev/null
  echo "images: built busybox:latest"
fi

if [ $force = 1 ] || ! have_image kubelite/pause:3.9; then
  mkdir -p "$workdir/pause/bin"
  cp "$busybox_bin" "$workdir/pause/bin/busybox"
  tar -C "$workdir/pause" -c . | docker import \
    --change 'ENTRYPOINT ["/bin/busybox", "sleep", "2147483647"]' \
    --change 'LABEL io.kubelite.image=pause' \
    - kubelite/pause:3.9 >/dev/null
  echo "images: built kubelite/pause:3.9"
fi
