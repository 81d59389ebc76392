#!/usr/bin/env bash
# Builds, without any registry, the images kubelite itself runs:
#   busybox:latest          Debian's static busybox with a symlink per applet (sh, httpd, nc, sleep, ...)
#   kubelite/pause:3.9      the pod sandbox: holds the pod's namespaces and sleeps; as PID 1 it exits at once on
#                           SIGTERM/SIGINT (so a pod stops without waiting for a kill) and reaps orphans
# Idempotent: an image that already exists (in its current build, see PAUSE_BUILD) is left alone unless --force.
set -euo pipefail

force=0
[ "${1:-}" = "--force" ] && force=1

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# The label a build of the pause image carries: bumped when the image changes, so an older one is rebuilt.
PAUSE_BUILD=2
pause_build() { docker image inspect --format '{{index .Config.Labels "io.kubelite.pause-build"}}' "$1" 2>/dev/null; }

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

if [ $force = 1 ] || [ "$(pause_build kubelite/pause:3.9)" != "$PAUSE_BUILD" ]; then
  mkdir -p "$workdir/pause/bin"
  cp "$busybox_bin" "$workdir/pause/bin/busybox"
  # PID 1 gets no default signal action, so `sleep` as PID 1 ignored SIGTERM. A shell with a trap exits on
  # SIGTERM/SIGINT at once (`wait` returns as soon as a trapped signal arrives), and its `wait` reaps every
  # child, so processes orphaned in a shared PID namespace do not linger as zombies.
  tar -C "$workdir/pause" -c . | docker import \
    --change 'ENTRYPOINT ["/bin/busybox", "sh", "-c", "trap \"exit 0\" TERM INT; while :; do /bin/busybox sleep 2147483647 & wait; done"]' \
    --change 'LABEL io.kubelite.image=pause' \
    --change "LABEL io.kubelite.pause-build=$PAUSE_BUILD" \
    - kubelite/pause:3.9 >/dev/null
  echo "images: built kubelite/pause:3.9"
fi
