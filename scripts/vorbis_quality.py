"""Size and coding noise of the Vorbis copies that scripts/device_data.py carries, per quality.

    python scripts/vorbis_quality.py [--data data/render] [--stems 24] [--seed 0] [--quality 0.7 0.9 1.0]

Encodes ``--stems`` random FLAC stems of the dataset (``random.Random(seed).sample`` of the sorted
paths) at each libsndfile compression level and prints a Markdown table: MB of Ogg per hour of
mono stems and the median SI-SDR of the decoded stem against the FLAC one (dB).
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fewshot_sep.data.stem_codec import encode_vorbis  # noqa: E402
from fewshot_sep.eval.metrics import si_sdr  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/render")
    parser.add_argument("--stems", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quality", type=float, nargs="+", default=[0.7, 0.9, 1.0])
    args = parser.parse_args(argv)
    paths = sorted(str(p) for p in Path(args.data).glob("stems/*/*.flac"))
    if len(paths) < args.stems:
        parser.error(f"--data {args.data} has {len(paths)} FLAC stems under stems/, fewer than --stems {args.stems}")
    files = random.Random(args.seed).sample(paths, args.stems)
    hours = sum(sf.info(f).frames for f in files) / 44100 / 3600
    print(f"{args.stems} stems of {args.data}, {hours:.2f} h")
    print("| quality | MB per hour | median SI-SDR of the decoded stem (dB) |")
    print("|---:|---:|---:|")
    for quality in args.quality:
        size, scores = 0, []
        for f in files:
            blob = encode_vorbis(f, quality)
            size += len(blob)
            ref, _ = sf.read(f, dtype="float32")
            est, _ = sf.read(io.BytesIO(blob), dtype="float32")
            n = min(len(ref), len(est))
            scores.append(si_sdr(ref[:n], est[:n]))
        print(f"| {quality:g} | {size / 1e6 / hours:.1f} | {np.median(scores):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
