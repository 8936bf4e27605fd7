#!/usr/bin/env bash
# The Debian Edu manuals in Simplified Chinese as EPUB books. ../shared/corpus/build_zh.sh reads the same
# package (debian-edu-doc-zh-cn) for their PDF and HTML editions and leaves its EPUBs out; this keeps them.
# The package is downloaded and unpacked into a scratch folder, not installed.
# Usage: scripts/zh_epubs.sh OUT   (OUT gets debian-edu-<release>-manual.epub, one per release)
set -euo pipefail
out=${1:?usage: scripts/zh_epubs.sh OUT}
package=debian-edu-doc-zh-cn
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
apt-get download "$package" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$package" >/dev/null; }
dpkg-deb -x ./*.deb root
cd - >/dev/null
mkdir -p "$out"
cp "$scratch"/root/usr/share/doc/"$package"/*.epub "$out"/
