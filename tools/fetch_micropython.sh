#!/usr/bin/env bash
# Fetch MicroPython 1.25.0 from Debian's `micropython` source package (suite
# trixie) through the mirror this machine's apt already uses, with a private
# apt state so the system's own sources and lists stay untouched. Verifies the
# pinned sha256 and unpacks into $CACHE/micropython-1.25.0 (outside git).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ZC_CACHE:-$top/.cache}
VER=1.25.0
ORIG=micropython_${VER}+ds.orig.tar.xz
SHA256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
DEST=$CACHE/micropython-$VER

if [ -f "$DEST/.zc-ok" ]; then
    echo "$DEST"; exit 0
fi
mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/archives/partial" "$CACHE/dl"

# The mirror: the first URI of a Debian (non-security) source apt is configured with.
mirror=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null; } \
          | awk '/^URIs:/ {for (i=2;i<=NF;i++) print $i}' | grep -v -- '-security' | head -n1 || true)
if [ -z "$mirror" ]; then
    mirror=$( { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; } \
              | awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' | head -n1 || true)
fi
[ -n "$mirror" ] || { echo "fetch_micropython: no Debian mirror in apt's configuration" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

cat > "$CACHE/apt/sources.list" <<SRC
deb-src [signed-by=$keyring] $mirror trixie main
SRC
aptopts=(-o Dir::State="$CACHE/apt" -o Dir::State::Lists="$CACHE/apt/lists"
         -o Dir::Cache="$CACHE/apt" -o Dir::Etc::SourceList="$CACHE/apt/sources.list"
         -o Dir::Etc::SourceParts=/nonexistent -o APT::Sandbox::User=root
         -o Debug::NoLocking=1)
if [ ! -f "$CACHE/dl/$ORIG" ]; then
    apt-get "${aptopts[@]}" -qq update
    (cd "$CACHE/dl" && apt-get "${aptopts[@]}" -qq --download-only source micropython)
fi
echo "$SHA256  $CACHE/dl/$ORIG" | sha256sum -c --quiet - \
    || { echo "fetch_micropython: sha256 mismatch for $ORIG" >&2; exit 1; }
rm -rf "$DEST.tmp"; mkdir -p "$DEST.tmp"
tar -xJf "$CACHE/dl/$ORIG" -C "$DEST.tmp" --strip-components=1
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
touch "$DEST/.zc-ok"
echo "$DEST"
