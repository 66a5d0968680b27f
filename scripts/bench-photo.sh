#!/usr/bin/env bash
# Photo pipeline per 12-megapixel JPEG beside vipsthumbnail on the same input, same size and
# quality, in the same run. Prints both as a markdown table row set.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_apt libvips-tools
use_shared_target_dir
input=${1:-tests/data/photos/olympus-ep3-12mp.jpg}
runs=${2:-10}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --release -q -p qingliu-app --example photo_bench
vips_ms=()
for _ in $(seq "$runs"); do
  s=$(date +%s%N)
  vipsthumbnail "$input" --size 1920 -o "$out/vips.jpg[Q=80,strip]"
  e=$(date +%s%N)
  vips_ms+=($(( (e - s) / 1000 )))
done
vips_median=$(printf '%s\n' "${vips_ms[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]/1000}')
vips_bytes=$(stat -c %s "$out/vips.jpg")
ours=$("$CARGO_TARGET_DIR/release/examples/photo_bench" "$input" "$out/ours.jpg" "$runs")
echo "$ours"
ours_ms=$(echo "$ours" | sed -E 's/.*median ([0-9.]+) ms.*/\1/')
ours_bytes=$(stat -c %s "$out/ours.jpg")
echo "| tool | median ms | output bytes |"
echo "|---|---|---|"
echo "| vipsthumbnail --size 1920 Q=80 strip | $vips_median | $vips_bytes |"
echo "| qingliu pipeline (EXIF, orient, resize, watermark, Q=80) | $ours_ms | $ours_bytes |"
awk -v a="$ours_ms" -v b="$vips_median" -v c="$ours_bytes" -v d="$vips_bytes" \
  'BEGIN { printf "| ratio ours / vips | %.2f | %.2f |\n", a / b, c / d }'
