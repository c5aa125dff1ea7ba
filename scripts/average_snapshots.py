"""Average the weights of several snapshots of one run (a uniform "checkpoint soup").

    python scripts/average_snapshots.py runs/release13/snapshot-00052*.pt ... --out runs/soup13

The snapshots of a run are already moving averages over about the last 1,000
steps (``train.ema_decay: 0.999``); a uniform average of snapshots taken
30 minutes apart spans the whole plateau of a run, a longer window than the
moving average gives. All inputs must come from the same run (same
``config.json``, same parameter names and shapes). Floating-point tensors are
averaged; integer buffers (counters) are taken from the last input. Writes
``OUT/checkpoint.pt`` (weights and the last input's step, no optimiser state,
the averaged file names under ``averaged_from``) and ``OUT/config.json``, so
``scripts/validate_snapshots.py`` and ``fewshot-sep evaluate --checkpoint``
read it like any snapshot.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path, help="snapshots of one run (config.json beside them)")
    parser.add_argument("--out", type=Path, required=True, help="folder for checkpoint.pt and config.json")
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error(f"got {len(args.checkpoints)} checkpoint: give at least two snapshots to average")

    import torch

    from fewshot_sep.train.checkpoint import CHECKPOINT_NAME, CONFIG_NAME, read_checkpoint, save_checkpoint, save_config

    configs = {(path.parent / CONFIG_NAME).resolve() for path in args.checkpoints}
    if len(configs) != 1:
        parser.error(f"the snapshots come from {len(configs)} run folders ({', '.join(map(str, sorted(configs)))}): "
                     "average snapshots of one run only")
    config_path = configs.pop()
    if not config_path.is_file():
        parser.error(f"{config_path} is missing: a snapshot needs the config.json of its run beside it")

    # Sort by step so that "last" (step, integer buffers) is well defined whatever the shell's order.
    payloads = sorted((read_checkpoint(path) | {"_path": path} for path in args.checkpoints),
                      key=lambda payload: int(payload.get("step", 0)))
    reference = payloads[-1]["model"]
    averaged: dict[str, torch.Tensor] = {}
    for name, last in reference.items():
        tensors = []
        for payload in payloads:
            tensor = payload["model"].get(name)
            if tensor is None or tensor.shape != last.shape:
                parser.error(f"{payload['_path']} has no tensor {name!r} of shape {tuple(last.shape)}: "
                             "the snapshots are not of the same model")
            tensors.append(tensor)
        if torch.is_floating_point(last):
            averaged[name] = torch.stack([t.to(torch.float64) for t in tensors]).mean(dim=0).to(last.dtype)
        else:
            averaged[name] = last.clone()

    args.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out / CHECKPOINT_NAME, {
        "model": averaged,
        "step": int(payloads[-1].get("step", 0)),
        "averaged_from": [payload["_path"].name for payload in payloads],
    })
    save_config(args.out, json.loads(config_path.read_text(encoding="utf-8")))
    steps = ", ".join(str(payload.get("step", "?")) for payload in payloads)
    print(f"averaged {len(payloads)} snapshots (steps {steps}) -> {args.out / CHECKPOINT_NAME}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
