#!/usr/bin/env bash
# Builds the brandpulse container image from Debian's archive alone (`make image`):
#   1. debootstrap makes a minimal Debian 12 root file system, imported once as the base image;
#   2. buildah builds deploy/image/Containerfile on it (chroot isolation: no daemon, no user
#      namespaces needed), the builder stage running scripts/install-deps.sh and cmake;
#   3. the result is checked: `brandpulse --version` runs inside it, and its size is printed.
# Installs buildah and debootstrap (Debian packages) itself when they are missing, so that
# `make test` never pulls them.
#
# Usage: deploy/image/build-image.sh [--tag NAME] [--save FILE.tar] [--rebuild-base]
# Environment: DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR (default deb.debian.org), CPU_LEVEL
# (default x86-64-v3), JOBS (default 2), IMAGE_WORK (default build/image).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
version=$(sed -n 's/^project(brandpulse VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
tag="localhost/brandpulse:${version}"
save=""
rebuild_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --save) save=$2; shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
work=${IMAGE_WORK:-$repo/build/image}
base=localhost/brandpulse-debian-base:bookworm
export BUILDAH_ISOLATION=chroot

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-image: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

step() { echo "build-image: $* ($(date -u +%H:%M:%S))"; }

# 1. The base: Debian 12 minbase from debootstrap, with the archive's updates and security suites.
if [ "$rebuild_base" = 1 ] || ! "${sudo_cmd[@]}" buildah inspect --type image "$base" >/dev/null 2>&1; then
  step "debootstrap bookworm from $mirror"
  rootfs="$work/rootfs"
  "${sudo_cmd[@]}" rm -rf "$rootfs"
  mkdir -p "$work"
  "${sudo_cmd[@]}" debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  "${sudo_cmd[@]}" rm -f "$rootfs/etc/apt/sources.list"
  "${sudo_cmd[@]}" tee "$rootfs/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  # Keep images small: no apt caches, no documentation from later installs.
  "${sudo_cmd[@]}" tee "$rootfs/etc/dpkg/dpkg.cfg.d/01-brandpulse-nodoc" >/dev/null <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
NODOC
  "${sudo_cmd[@]}" rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  "${sudo_cmd[@]}" tar -C "$rootfs" --numeric-owner -cf "$work/base.tar" .
  "${sudo_cmd[@]}" rm -rf "$rootfs"
  container=$("${sudo_cmd[@]}" buildah from scratch)
  "${sudo_cmd[@]}" buildah add --quiet "$container" "$work/base.tar" / >/dev/null
  "${sudo_cmd[@]}" buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd /bin/bash "$container"
  "${sudo_cmd[@]}" buildah commit --quiet --rm "$container" "$base" >/dev/null
  rm -f "$work/base.tar"
  step "base image $base ready"
fi

# 2. The image.
step "building $tag (CPU level ${CPU_LEVEL:-x86-64-v3}, -j ${JOBS:-2})"
"${sudo_cmd[@]}" buildah bud --isolation=chroot --layers \
  --build-arg BASE="$base" --build-arg CPU_LEVEL="${CPU_LEVEL:-x86-64-v3}" --build-arg JOBS="${JOBS:-2}" \
  --ignorefile "$repo/deploy/image/containerignore" \
  -f "$repo/deploy/image/Containerfile" -t "$tag" "$repo"

# 3. The check: the binary starts inside the image with the libraries it carries.
container=$("${sudo_cmd[@]}" buildah from "$tag")
trap '"${sudo_cmd[@]}" buildah rm "$container" >/dev/null 2>&1 || true' EXIT
inside_version=$("${sudo_cmd[@]}" buildah run --isolation=chroot "$container" -- /usr/local/bin/brandpulse --version)
size=$("${sudo_cmd[@]}" buildah images --format '{{.Size}}' "$tag" | head -1)
step "$tag: 'brandpulse --version' inside says '$inside_version'; image size $size"
if [ -n "$save" ]; then
  "${sudo_cmd[@]}" buildah push --quiet "$tag" "oci-archive:$save:$tag"
  step "saved to $save (load it with: podman load -i $save, or ctr -n k8s.io images import $save)"
fi
