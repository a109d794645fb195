#!/bin/sh
# Refreshes docs/screenshots/ (README.md and docs/web.md show them): the browser tests take
# them with the real headless Chromium on their fixtures (desktop 1280×1000 and phone 390×844,
# English and Simplified Chinese), then ffmpeg (already needed by camvault; the box has no
# PNG optimiser) turns each into a 256-colour palette PNG, about a third of the size.
#
#   bench/screenshots.sh            # all of them (several minutes: the tests play clips)
set -eu
cd "$(dirname "$0")/.."
export CAMVAULT_SCREENSHOTS=docs/screenshots
export CAMVAULT_TEST_PYTHON="${CAMVAULT_TEST_PYTHON:-/work/venv-test/bin/python}"
cargo test --test web browser_ -- --test-threads 1
cargo test --test accounts browser_a_viewer_asks_and_an_admin_approves_from_the_link
cargo test --test accounts a_users_language_follows_the_account_to_any_browser
cargo test --test web_messages probe_problems_and_error_answers_in_chinese
cargo test --test web_copies
for f in docs/screenshots/*.png; do
    tmp="${f%.png}.tmp.png"
    ffmpeg -v error -y -i "$f" -vf "split[a][b];[a]palettegen=max_colors=256:stats_mode=full[p];[b][p]paletteuse=dither=none" "$tmp"
    # Keep whichever is smaller (a photo-like frame can grow as a palette PNG).
    if [ "$(stat -c %s "$tmp")" -lt "$(stat -c %s "$f")" ]; then mv "$tmp" "$f"; else rm "$tmp"; fi
done
# A file no page shows is not kept.
for f in docs/screenshots/*.png; do
    n=$(basename "$f")
    grep -q "screenshots/$n" README.md docs/*.md || { echo "not shown anywhere, removed: $f"; rm "$f"; }
done
ls -l docs/screenshots
