"""Capacity check: can a model config fit a small fixed set of training episodes?

Trains on the same ``--episodes`` training episodes (no augmentation) over and
over and prints their median SI-SDR improvement every ``--every`` steps, so two
architectures can be compared on how far they fit data they have seen. A model
that cannot fit 64 episodes is limited by capacity, not by data or steps.

    python scripts/capacity_check.py configs/release-stage2.yaml --steps 200
    python scripts/capacity_check.py configs/release-stage2.yaml --steps 200 --set model.fine_head=16

``--set section.key=value`` overrides the config (values parsed as YAML);
``train.init_from`` of the config is used unless ``--init-from none``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import yaml

from fewshot_sep.model import build_model
from fewshot_sep.train.batches import make_batch
from fewshot_sep.train.config import load_config
from fewshot_sep.train.loop import batch_loss, build_sources, evaluate, initialise_from, to_tensors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--init-from", default=None, help="checkpoint to warm-start from ('none': fresh weights)")
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    config = load_config(args.config)
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        config[section][name] = yaml.safe_load(value)
    torch.set_num_threads(args.threads)
    config["data"]["in_memory"] = False
    train_src, _ = build_sources(config, progress=False)
    batch_size = int(config["train"]["batch_size"])
    batches = [to_tensors(make_batch(train_src, step, batch_size, int(config["seed"])), torch.device("cpu"))
               for step in range(max(1, args.episodes // batch_size))]
    torch.manual_seed(0)
    model = build_model(config)
    init = args.init_from if args.init_from is not None else config["train"].get("init_from")
    if init and init != "none":
        initialise_from(model, init)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.separator.parameters())
    print(f"separator parameters: {n_params:,}; {len(batches) * batch_size} fixed episodes; overrides {args.set}")
    print("| step | fixed-episode SI-SDRi median (dB) | mean | s/step |")
    print("|---:|---:|---:|---:|")
    start = time.monotonic()
    for step in range(args.steps + 1):
        if step % args.every == 0:
            scores = evaluate(model, batches)
            per_step = (time.monotonic() - start) / max(step, 1)
            print(f"| {step} | {np.median(scores):.2f} | {np.mean(scores):.2f} | {per_step:.2f} |", flush=True)
        if step == args.steps:
            break
        batch = batches[step % len(batches)]
        loss, _ = batch_loss(model, batch, config["train"])  # separation loss only (no prototype term)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(config["train"]["grad_clip"]))
        optimizer.step()


if __name__ == "__main__":
    main()
