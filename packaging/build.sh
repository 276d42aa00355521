#!/usr/bin/env bash
# Build the ptycho-gui onedir application with PyInstaller, then smoke-test the built program.
#
#   packaging/build.sh              build into dist/ptycho-gui (work files in build/), then smoke-test
#   packaging/build.sh --smoke-only smoke-test an existing dist/ptycho-gui
#
# Uses the python on PATH (or $PYTHON): run it inside the environment that has ptycho-gui's dependencies.
# Installs PyInstaller into that environment when it is missing. The smoke test runs the built program on
# the built-in demo under a real X server (xvfb-run, Qt's xcb platform, as on a desktop) and checks that it
# wrote a screenshot; without xvfb-run it says so and falls back to QT_QPA_PLATFORM=offscreen. It uses a
# throw-away settings folder, so the user's saved layout is neither read nor changed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
DIST="$REPO/dist/ptycho-gui"
SMOKE_DIR="$REPO/build/smoke"
SCREENSHOT="$SMOKE_DIR/demo-screenshot.png"
cd "$REPO"

build() {
    if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
        echo "PyInstaller is missing: installing it into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
        "$PYTHON" -m pip install pyinstaller
    fi
    local start end
    start=$(date +%s)
    "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$REPO/dist" --workpath "$REPO/build/pyinstaller" packaging/ptycho-gui.spec
    end=$(date +%s)
    echo "build time: $((end - start)) s"
    echo "dist size: $(du -sh "$DIST" | cut -f1) ($(find "$DIST" -type f | wc -l) files) in $DIST"
}

smoke_test() {
    rm -rf "$SMOKE_DIR"
    mkdir -p "$SMOKE_DIR/config"
    "$DIST/ptycho-gui" --version
    local start end
    start=$(date +%s)
    local -a display=(env QT_QPA_PLATFORM=offscreen)
    if command -v xvfb-run >/dev/null 2>&1; then
        display=(xvfb-run -a -s "-screen 0 1600x1000x24" env -u QT_QPA_PLATFORM)
    else
        echo "xvfb-run not found (Debian/Ubuntu: apt-get install xvfb): smoke test offscreen instead of on X11" >&2
    fi
    XDG_CONFIG_HOME="$SMOKE_DIR/config" "${display[@]}" \
        "$DIST/ptycho-gui" --demo --run --fresh --screenshot "$SCREENSHOT" --quit-when-done
    end=$(date +%s)
    if [[ ! -s "$SCREENSHOT" ]]; then
        echo "smoke test FAILED: no screenshot at $SCREENSHOT" >&2
        exit 1
    fi
    echo "smoke test passed in $((end - start)) s: $SCREENSHOT"
}

case "${1:-}" in
    --smoke-only) smoke_test ;;
    "") build; smoke_test ;;
    *) echo "usage: $0 [--smoke-only]" >&2; exit 2 ;;
esac
