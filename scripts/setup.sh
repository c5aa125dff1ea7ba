#!/usr/bin/env bash
# Set up everything fewshot-sep needs on a Debian machine:
#   1. system packages (installed with apt-get when run as root; otherwise we
#      stop and print the command to run),
#   2. a virtual environment in .venv with the package, its training and
#      distributed (Dask) extras and the test tools.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# freepats, timidity and avldrums.lv2-soundfont: the robustness suite's held-out sound sources (tests, evaluation).
SYSTEM_PACKAGES=(libportaudio2 jackd2 libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont csound-soundfont libsndfile1
                 freepats timidity avldrums.lv2-soundfont)
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "setup: installing system packages: ${missing[*]}"
        # jackd2 asks whether to enable realtime limits; answer no, non-interactively.
        echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "setup: missing system packages: ${missing[*]}" >&2
        echo "setup: install them with:  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
        echo "setup: (for jackd2 first run: echo 'jackd2 jackd/tweak_rt_limits boolean false' | sudo debconf-set-selections)" >&2
        exit 1
    fi
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "setup: creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.fewshot-sep-installed"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "setup: installing Python dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[train,distributed,dev]"
    echo "$want" > "$stamp"
fi
