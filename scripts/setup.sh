#!/usr/bin/env bash
# Set up fewshot-sep on a Debian machine, one of two paths:
#   --runtime  what a producer needs (`make demo`): the system packages libportaudio2 and
#              libsndfile1, and a virtual environment in .venv with the package and no extras
#              (numpy, onnxruntime, pedalboard, ...: no torch);
#   --full     everything (`make test`, the default): also JACK, FluidSynth, the soundfonts and
#              the held-out sound sources, and the train, distributed (Dask) and dev extras.
# System packages are installed with apt-get --no-install-recommends when run as root;
# otherwise we stop and print the command to run. Idempotent and quick when nothing changed;
# a full set-up also serves --runtime.
set -euo pipefail
cd "$(dirname "$0")/.."

LEVEL=full
case "${1:-}" in
    --runtime) LEVEL=runtime ;;
    --full | "") LEVEL=full ;;
    *) echo "setup: unknown option ${1}: use --runtime (make demo) or --full (make test)" >&2; exit 2 ;;
esac

RUNTIME_PACKAGES=(libportaudio2 libsndfile1)
# freepats, timidity and avldrums.lv2-soundfont: the robustness suite's held-out sound sources (tests, evaluation).
FULL_PACKAGES=("${RUNTIME_PACKAGES[@]}" jackd2 libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont csound-soundfont
               freepats timidity avldrums.lv2-soundfont)
if [[ $LEVEL == runtime ]]; then
    SYSTEM_PACKAGES=("${RUNTIME_PACKAGES[@]}")
    EXTRAS=""
else
    SYSTEM_PACKAGES=("${FULL_PACKAGES[@]}")
    EXTRAS="[train,distributed,dev]"
fi
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
        if [[ " ${missing[*]} " == *" jackd2 "* ]]; then
            echo "setup: (for jackd2 first run: echo 'jackd2 jackd/tweak_rt_limits boolean false' | sudo debconf-set-selections)" >&2
        fi
        exit 1
    fi
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "setup: creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# One stamp per level, holding the hash of pyproject.toml it was installed from.
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
stamp="$VENV/.fewshot-sep-installed-$LEVEL"
full_stamp="$VENV/.fewshot-sep-installed-full"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || [[ -f "$full_stamp" && "$(cat "$full_stamp")" == "$want" ]]; then
    exit 0
fi
echo "setup: installing Python dependencies ($LEVEL) into $VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".$EXTRAS"
echo "$want" > "$stamp"
