#!/usr/bin/env bash
# Regenerate the fonts embedded in the documents crate (shared/documents/fonts/), which are
# committed so that builds never need this script. The body font is Noto Serif CJK SC (宋体
# style, as official forms are printed) cut down to GB 2312 and ASCII: 4.8 MB instead of 26 MB
# for the whole collection. The label font is Noto Sans CJK SC Bold (黑体) cut down to the
# Chinese characters of the forms' source (their fixed labels and titles); a test in the crate
# fails when a label gains a character the font lacks, and then this script is run again.
# Both fonts: SIL Open Font License 1.1 (shared/documents/fonts/OFL.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_apt fonts-noto-cjk python3-pip
FONTTOOLS_VERSION=4.68.0
python3 -c "import fontTools; assert fontTools.version == '$FONTTOOLS_VERSION'" 2>/dev/null ||
  pip install --quiet "fonttools==$FONTTOOLS_VERSION"
out=shared/documents/fonts
chars=$(mktemp)
labels=$(mktemp)
trap 'rm -f "$chars" "$labels"' EXIT
python3 - "$labels" shared/documents/src/*.rs shared/src/documents.rs <<'PY'
import sys
text = "".join(open(f).read() for f in sys.argv[2:])
cjk = {c for c in text if ord(c) > 0x2000}
open(sys.argv[1], "w").write("".join(sorted(cjk)))
PY
python3 - "$chars" <<'PY'
import sys
chars = {chr(c) for c in range(0x20, 0x7f)}
for b1 in range(0xA1, 0xF8):
    for b2 in range(0xA1, 0xFF):
        try:
            chars.add(bytes([b1, b2]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
# Punctuation the forms use that GB 2312 lacks.
chars.update("〔〕﹝﹞—·•×√□☑☐")
open(sys.argv[1], "w").write("".join(sorted(chars)))
PY
# Face 2 of the collections is Simplified Chinese.
python3 -m fontTools.subset /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc --font-number=2 \
  --text-file="$chars" --layout-features='*' --no-hinting \
  --output-file="$out/NotoSerifSC-Regular-GB2312.otf"
python3 -m fontTools.subset /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc --font-number=2 \
  --text-file="$labels" --unicodes=U+0020-007E --layout-features='*' --no-hinting \
  --output-file="$out/NotoSansSC-Bold-Labels.otf"
ls -l "$out"
