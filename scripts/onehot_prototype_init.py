"""Build a one-hot baseline model that starts where the few-shot model stands: the few-shot
checkpoint's separator, and a class table whose row for each instrument is that instrument's
prototype, the mean embedding of many of its training clips under the few-shot clip encoder.

    python scripts/onehot_prototype_init.py --fewshot models/release-stage8 \\
        --config configs/onehot-stage8.yaml --out runs/onehot8-init

At its start such a one-hot model separates almost like the few-shot model given ``--clips``
examples drawn from the whole train split: the class table's rows are unit length, while the
few-shot conditioning (a mean of unit embeddings) is a little shorter. Training it further (``train.init_from``
pointing at ``OUT/checkpoint.pt``) gives the baseline the separator's whole training history,
so the comparison between the two kinds of conditioning is not a comparison of training budgets.
Writes ``OUT/checkpoint.pt`` (weights only) and ``OUT/config.json`` (the config with its class
list), so ``fewshot-sep evaluate --onehot-checkpoint OUT`` also scores the starting point.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fewshot_sep.utils.errors import UserError  # noqa: E402


def class_prototypes(model: Any, sampler: Any, clips_per_class: int, max_episodes: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean clip embedding per instrument: ``(instrument ids [C], prototypes [C, E], clips [C])``.

    Draws episodes of ``sampler`` (its support clips are the instrument's examples) until
    every instrument has ``clips_per_class`` clips or ``max_episodes`` were drawn. ``model``: a
    few-shot :class:`~fewshot_sep.model.FewShotModel`; ``sampler``: an episode source with
    ``instrument_ids()`` and ``episode(i)`` (``support [k, n]``, ``target_instrument``)."""
    import torch

    from fewshot_sep.train.loop import support_embeddings

    ids = [int(c) for c in sampler.instrument_ids()]
    sums = {c: None for c in ids}
    counts = dict.fromkeys(ids, 0)
    with torch.no_grad():
        for index in range(max_episodes):
            if min(counts.values()) >= clips_per_class:
                break
            episode = sampler.episode(index)
            label = int(episode.target_instrument)
            if counts[label] >= clips_per_class:
                continue
            emb = support_embeddings(model, {"support": torch.from_numpy(episode.support)}).numpy()
            sums[label] = emb.sum(0) if sums[label] is None else sums[label] + emb.sum(0)
            counts[label] += len(emb)
    short = [c for c in ids if counts[c] == 0]
    if short:
        raise UserError(f"no clips of instruments {short} in {max_episodes} episodes: raise --max-episodes")
    return np.array(ids), np.stack([sums[c] / counts[c] for c in ids]), np.array([counts[c] for c in ids])


def prototype_sampler(config: dict[str, Any], seed: int) -> Any:
    """Episodes of the train split of ``config["data"]["root"]`` with 5 support clips of the
    config's clip length: the source of the prototypes' clips."""
    from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler

    data = config["data"]
    return EpisodeSampler(Path(data["root"]), EpisodeConfig(
        splits=("train",), clip_seconds=float(data["clip_seconds"]), support_seconds=float(data["support_seconds"]),
        k_range=(5, 5), n_interferers=(1, 1), negative_prob=0.0), seed=seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fewshot", type=Path, default=REPO / "models" / "release-stage8",
                        help="few-shot run folder or checkpoint (config.json beside it)")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "onehot-stage8.yaml",
                        help="one-hot run config (model section and data.root)")
    parser.add_argument("--out", type=Path, required=True, help="folder for checkpoint.pt + config.json")
    parser.add_argument("--clips", type=int, default=50, help="clips per instrument (default 50)")
    parser.add_argument("--max-episodes", type=int, default=20000, help="episodes drawn at most")
    parser.add_argument("--seed", type=int, default=0, help="episode seed")
    args = parser.parse_args(argv)
    try:
        return build(args)
    except UserError as err:
        print(f"onehot_prototype_init: error: {err}", file=sys.stderr)
        return 2


def build(args: argparse.Namespace) -> int:
    """Write the one-hot model of ``args`` (see the module docstring); returns 0."""
    import torch

    from fewshot_sep.model import build_model
    from fewshot_sep.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint, save_config
    from fewshot_sep.train.config import load_config

    torch.set_num_threads(1)
    started = time.monotonic()
    fewshot, _ = load_checkpoint(args.fewshot)
    config = load_config(args.config)
    sampler = prototype_sampler(config, args.seed)
    # The class order is the one the trainer derives from the same data (train_src.instrument_ids()).
    config["model"]["classes"] = [int(c) for c in sampler.instrument_ids()]
    model = build_model(config)
    for part in ("separator", "encoder"):
        try:  # strict: every tensor of the few-shot model, same names and shapes
            getattr(model, part).load_state_dict(getattr(fewshot, part).state_dict())
        except RuntimeError as err:
            detail = " ".join(line.strip() for line in str(err).splitlines()[1:3])
            raise UserError(f"the model section of {args.config} does not build the {part} of {args.fewshot} "
                            f"({detail[:300]}): copy that checkpoint's model settings (its config.json) "
                            f"into the config, keeping conditioning: onehot") from None
    ids, prototypes, counts = class_prototypes(fewshot, sampler, args.clips, args.max_episodes)
    assert ids.tolist() == config["model"]["classes"]
    with torch.no_grad():
        model.class_embedding.table.weight.copy_(torch.from_numpy(prototypes))
    args.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out / CHECKPOINT_NAME, {"model": model.state_dict()})
    save_config(args.out, config)
    norms = np.linalg.norm(prototypes, axis=1)  # below 1: a mean of unit embeddings
    print(f"{len(ids)} class prototypes from {int(counts.sum())} clips ({counts.min()}-{counts.max()} per class; "
          f"norms {norms.min():.2f}-{norms.max():.2f}, median {np.median(norms):.2f}) "
          f"-> {args.out / CHECKPOINT_NAME} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
