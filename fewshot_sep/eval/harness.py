"""The evaluation harness: episodes x systems x conditions -> rows of metrics.

Episodes come from :class:`fewshot_sep.data.episodes.EpisodeSampler`, drawn
with ``k = max(--k)`` support clips and 3 negative clips each; every condition
of an episode uses the same mixture, the k-shot support set is the first k of
those clips (nested: the 1-shot clip is in the 3-shot set, ...) and the
"with negatives" condition adds the 3 negatives. So every comparison (k, with
or without negatives, system A vs B) is paired on identical mixtures.

Work is split per episode over ``workers`` processes (spawned; one thread
each for numpy, onnxruntime and torch). Finished episodes are appended to
``<out>/partial.jsonl``, so an interrupted run resumes where it stopped when
rerun with the same settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fewshot_sep.contract.signal import LATENCY_SAMPLES, SAMPLE_RATE
from fewshot_sep.eval.metrics import sdr
from fewshot_sep.eval.report import SYSTEM_ORDER
from fewshot_sep.eval.settings import (  # noqa: F401  (settings names stay importable from the harness)
    DEFAULT_INTERFERERS, EVAL_SPLITS, MAX_INTERFERERS, N_NEGATIVES, NEGATIVE_CHOICES, SILENT_TARGET_DB, SUITES,
    EvalSettings, iter_episode_ids, settings_from_json, validate_settings)
from fewshot_sep.eval.systems import EXAMPLE_SYSTEMS, FEWSHOT_SYSTEMS
from fewshot_sep.utils.errors import UserError
from fewshot_sep.utils.metrics import energy_db, si_sdr

PARTIAL_NAME = "partial.jsonl"


# ----------------------------------------------------------------------------- per worker


class _Worker:
    """Samplers and systems of one process (built once, reused for every episode)."""

    def __init__(self, settings: EvalSettings, listen_dir: str | None) -> None:
        from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler

        self.s = settings
        self.listen_dir = Path(listen_dir) if listen_dir else None
        kmax = max(settings.ks)
        self.samplers: dict[str, Any] = {}
        if settings.suite == "robust":
            from fewshot_sep.eval.robust import RobustEpisodes

            for name in settings.episode_sets():
                condition, split = name.split(":")
                seed = settings.seed * 1000 + EVAL_SPLITS.index(split)
                self.samplers[name] = RobustEpisodes(settings.data, condition, split, settings.seconds,
                                                     settings.support_seconds, kmax, N_NEGATIVES, seed)
        for split in settings.splits if settings.suite != "robust" else []:
            if split == "val":
                target_splits, others = ("val",), ("val",)
            else:
                target_splits, others = (split,), ("test", "test_unseen")
            # Support / negative clips may come from either test split: a target's own
            # support is of its instrument (so of its split anyway), while negatives are of
            # an interferer's instrument, which may be seen or unseen.
            config = EpisodeConfig(
                splits=target_splits, interferer_splits=others, support_splits=others,
                clip_seconds=settings.seconds, support_seconds=settings.support_seconds,
                k_range=(kmax, kmax), n_interferers=(settings.interferers[0], settings.interferers[1]),
                fill_interferers=True, negative_prob=1.0, negatives_range=(N_NEGATIVES, N_NEGATIVES),
            )
            # A different seed per split keeps the splits' episodes independent.
            split_seed = settings.seed * 1000 + EVAL_SPLITS.index(split)
            self.samplers[split] = EpisodeSampler(settings.data, config, seed=split_seed)
        self.systems: dict[str, Any] = {}
        want = set(settings.systems)
        if "fewshot-onnx" in want:
            from fewshot_sep.eval.systems import OnnxFewShot

            self.systems["fewshot-onnx"] = OnnxFewShot(settings.model, block_size=None)
        if "fewshot-stream" in want:
            from fewshot_sep.eval.systems import OnnxFewShot

            self.systems["fewshot-stream"] = OnnxFewShot(settings.model, block_size=settings.block_size)
        if "fewshot-torch" in want:
            from fewshot_sep.eval.systems import TorchFewShot

            self.systems["fewshot-torch"] = TorchFewShot(settings.checkpoint)
        if "onehot" in want:
            from fewshot_sep.eval.systems import TorchOneHot

            self.systems["onehot"] = TorchOneHot(settings.onehot_checkpoint)
        if "fewshot-nmf" in want:
            onnx = self.systems["fewshot-onnx"]
            # The mean of two estimates is the estimate of the mean mask only when both mask the
            # same STFT frames and align alike: the model's rate, no look-ahead, NMF's STFT.
            if onnx.sample_rate != SAMPLE_RATE or onnx.latency != LATENCY_SAMPLES:
                raise UserError(f"--systems fewshot-nmf needs a {SAMPLE_RATE} Hz model without look-ahead (latency "
                                f"{LATENCY_SAMPLES} samples); this one runs at {onnx.sample_rate} Hz with latency "
                                f"{onnx.latency}: leave fewshot-nmf out")

    def evaluate(self, split: str, index: int) -> dict:
        """All rows (and listening files) of episode `index` of `split`, and its CPU time."""
        cpu_started = time.process_time()
        result = self._evaluate(split, index)
        result["cpu_seconds"] = time.process_time() - cpu_started
        return result

    def _evaluate(self, split: str, index: int) -> dict:
        from fewshot_sep.data.gm import family_of, instrument_name
        from fewshot_sep.data.split import instrument_status

        s = self.s
        ep = self.samplers[split].episode(index)
        episode_id = f"{split}/{index:04d}"
        condition, _, split = split.rpartition(":")  # robust sets are named condition:split
        mixture = ep.mixture.astype(np.float32)
        target = ep.target.astype(np.float32)
        base = {
            "episode": episode_id, "split": split, "condition": condition,
            "seen": "unseen" if instrument_status(ep.target_instrument) == "unseen" else "seen",
            "target_instrument": ep.target_instrument, "target_name": instrument_name(ep.target_instrument),
            "family": family_of(ep.target_instrument), "soundfont": ep.soundfont, "work_id": ep.work_id,
            "n_interferers": len(ep.interferer_instruments),
            "interferers": ";".join(instrument_name(i) for i in ep.interferer_instruments),
            "negative_instrument": instrument_name(ep.negative_instrument) if ep.negative_instrument >= 0 else "",
            "onehot_class": "",
        }
        conditions = [(k, neg) for k in sorted(s.ks) for neg in s.negative_modes()]
        has_negatives = ep.negatives.shape[0] > 0
        rows: list[dict] = []
        skip = "silent_target" if energy_db(target) < SILENT_TARGET_DB else (
            "no_family_mate" if ep.stems.get("confusable") is False else None)
        if skip:
            for system in s.systems:
                conds = self._conditions_of(system, conditions)
                for k, neg in conds:
                    rows.append({**base, "system": system, "k": k, "negatives": neg, "status": skip,
                                 "si_sdr": float("nan"), "si_sdr_mixture": float("nan"), "si_sdri": float("nan"),
                                 "sdr": float("nan"), "seconds": 0.0})
            return {"episode": episode_id, "rows": rows, "listen": None}

        si_mix = si_sdr(target, mixture)
        k_ref, neg_ref = s.reference_condition()
        keep_audio = self.listen_dir is not None and index < s.listen
        audio: dict[str, np.ndarray] = {}

        estimates: dict[tuple[str, int, str], np.ndarray] = {}

        def add(system: str, k: int, neg: str, estimate: np.ndarray, started: float, **extra) -> None:
            estimates[(system, k, neg)] = estimate
            value = si_sdr(target, estimate)
            rows.append({**base, **extra, "system": system, "k": k, "negatives": neg, "status": "ok",
                         "si_sdr": value, "si_sdr_mixture": si_mix, "si_sdri": value - si_mix,
                         "sdr": sdr(target, estimate), "seconds": time.process_time() - started})
            if keep_audio and system != "mixture" and (system not in EXAMPLE_SYSTEMS or (k, neg) == (k_ref, neg_ref)):
                audio[system] = estimate

        from fewshot_sep.eval.systems import mixture_estimate, oracle_estimate

        for system in s.systems:
            t0 = time.process_time()
            if system == "mixture":
                add(system, 0, "-", mixture_estimate(mixture), t0)
            elif system == "oracle":
                add(system, 0, "-", per_channel(oracle_estimate, mixture, target), t0)
            elif system == "onehot":
                labels = []

                def onehot(channel: np.ndarray) -> np.ndarray:
                    estimate, label = self.systems["onehot"].separate_instrument(channel, ep.target_instrument)
                    labels.append(label)
                    return estimate

                add(system, 0, "-", per_channel(onehot, mixture), t0, onehot_class=instrument_name(labels[0]))
            elif system == "nmf":
                from fewshot_sep.eval.nmf import example_dictionaries, nmf_estimate

                for k, neg in self._conditions_of(system, conditions):
                    if neg == "with" and not has_negatives:
                        continue
                    t0 = time.process_time()
                    negs = list(ep.negatives) if neg == "with" else []
                    fixed = example_dictionaries(list(ep.support[:k]), negs)  # once for both channels
                    add(system, k, neg, per_channel(lambda ch: nmf_estimate(ch, (), dictionaries=fixed), mixture), t0)

        from fewshot_sep.realtime.conditioning import build_conditioning

        embeddings: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        for system in s.systems:
            if system not in FEWSHOT_SYSTEMS:
                continue
            backend = self.systems[system]
            # ONNX offline and streaming share the encoder: embed once.
            enc_key = "torch" if system == "fewshot-torch" else "onnx"
            if enc_key not in embeddings:
                support = backend.embed(list(ep.support))
                negatives = backend.embed(list(ep.negatives)) if has_negatives else None
                embeddings[enc_key] = (support, negatives)
            support, negatives = embeddings[enc_key]
            for k, neg in conditions:
                if system == "fewshot-stream" and s.stream_conditions == "reference" and (k, neg) != (k_ref, neg_ref):
                    continue
                if neg == "with" and negatives is None:
                    continue  # counted in the summary as "no negatives available"
                t0 = time.process_time()
                vector = build_conditioning(support[:k].mean(axis=0), negatives.mean(axis=0) if neg == "with" else None)
                if getattr(backend, "stereo_input", False) and mixture.ndim == 2 and len(mixture) == 2:
                    estimate = backend.separate_stereo(mixture, vector)
                else:
                    estimate = per_channel(lambda ch: backend.separate(ch, vector), mixture)
                add(system, k, neg, estimate, t0)

        if "fewshot-nmf" in s.systems:
            # Both apply a real mask to the same STFT of the mixture, so the mean of their
            # estimates is the estimate of the mean mask (no third separation needed).
            for k, neg in self._conditions_of("fewshot-nmf", conditions):
                parts = [estimates.get((name, k, neg)) for name in ("fewshot-onnx", "nmf")]
                if all(p is not None for p in parts):
                    add("fewshot-nmf", k, neg, 0.5 * (parts[0] + parts[1]), time.process_time())

        listen = None
        if keep_audio:
            listen = self._write_listening(episode_id, ep, mixture, target, audio, rows, k_ref, neg_ref)
        return {"episode": episode_id, "rows": rows, "listen": listen}

    def _conditions_of(self, system: str, conditions: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """(k, negatives) conditions a system is scored in: every one for the few-shot systems,
        the reference one for NMF (a few CPU seconds per run), none for the others."""
        if system in FEWSHOT_SYSTEMS:
            return conditions
        if system in ("nmf", "fewshot-nmf"):
            return [self.s.reference_condition()]
        return [(0, "-")]

    def _write_listening(self, episode_id, ep, mixture, target, audio, rows, k_ref, neg_ref) -> dict:
        from fewshot_sep.utils.audio import write_audio

        # no ':' in the folder: a browser would read "in-domain:test-0000/x.flac" as a URL scheme
        folder = self.listen_dir / episode_id.replace("/", "-").replace(":", "_")
        sr = SAMPLE_RATE

        def save(name: str, x: np.ndarray) -> str:
            x = np.asarray(x, np.float32)
            write_audio(folder / name, x if x.ndim == 2 else x[None], sr)
            return f"{folder.name}/{name}"

        files = {"mixture": save("mixture.flac", mixture), "reference": save("reference.flac", target)}
        files["support"] = [save(f"support_{i + 1}.flac", clip) for i, clip in enumerate(ep.support[:k_ref])]
        files["negatives"] = ([save(f"negative_{i + 1}.flac", clip) for i, clip in enumerate(ep.negatives)]
                              if neg_ref == "with" else [])
        files["estimates"] = {}
        for system, estimate in audio.items():
            match = [r for r in rows if r["system"] == system and (system not in EXAMPLE_SYSTEMS or (r["k"], r["negatives"]) == (k_ref, neg_ref))]
            files["estimates"][system] = {"file": save(f"estimate_{system}.flac", estimate),
                                          "si_sdri": match[0]["si_sdri"] if match else float("nan")}
        first = rows[0]
        return {"episode": episode_id, "target": first["target_name"], "seen": first["seen"],
                "family": first["family"], "interferers": first["interferers"], "k": k_ref, "negatives": neg_ref,
                "negative_instrument": first["negative_instrument"], "files": files}


_WORKER: _Worker | None = None
_WORKER_ERROR: BaseException | None = None


def _init_worker(settings_json: str, listen_dir: str | None) -> None:
    # An exception here would only say "initializer failed"; keep it for _run_task to raise.
    global _WORKER, _WORKER_ERROR
    try:
        settings = EvalSettings(**json.loads(settings_json))
        _single_thread(settings)
        _WORKER = _Worker(settings, listen_dir)
    except Exception as exc:  # re-raised, with its message, by every task
        _WORKER_ERROR = exc


def _run_task(task: tuple[str, int]) -> dict:
    if _WORKER is None:
        raise _WORKER_ERROR if _WORKER_ERROR is not None else RuntimeError("evaluation worker not initialised")
    return _WORKER.evaluate(*task)


def _single_thread(settings: EvalSettings) -> None:
    """One torch thread when a torch system runs (torch is not imported otherwise)."""
    if any(s in settings.systems for s in ("fewshot-torch", "onehot")):
        import torch

        torch.set_num_threads(1)


_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ----------------------------------------------------------------------------- driver


@dataclass
class EvalOutcome:
    """Rows and listening records of a run; `seconds` is the wall time of this call,
    `cpu_seconds_per_episode` the mean process CPU time of one episode (all systems
    and conditions) over all episodes of the run, resumed ones included."""

    rows: list[dict]
    listen: list[dict]
    seconds: float
    evaluated_now: int
    resumed: int
    cpu_seconds_per_episode: float = float("nan")


def _load_partial(path: Path, fingerprint: str) -> dict[str, dict]:
    if not path.is_file():
        return {}
    done: dict[str, dict] = {}
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if not lines:
        return {}
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        return {}
    if header.get("fingerprint") != fingerprint:
        return {}
    for line in lines[1:]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by an interruption
            continue
        done[record["episode"]] = record
    return done


def run_evaluation(
    settings: EvalSettings,
    out_dir: str | os.PathLike,
    workers: int = 2,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    in_process: bool = False,
) -> EvalOutcome:
    """Evaluate every (split, episode) with every system and condition of `settings`.

    Returns the rows sorted by split, episode, system, k and negatives (each a
    dict with the columns of `fewshot_sep.eval.report.ROW_COLUMNS`) and the
    listening-page records. Resumes from ``<out_dir>/partial.jsonl``.

    Episodes run in `workers` spawned processes whose BLAS / OpenMP / torch /
    onnxruntime use one thread each (BLAS threads of an already running
    process cannot be limited without extra packages, and spinning BLAS
    threads on a shared machine cost more than they give). `in_process=True`
    runs everything in this process instead (tests: no spawn start-up).
    """
    from tqdm import tqdm

    validate_settings(settings)
    if workers < 1:
        raise UserError(f"--workers {workers} is invalid: use 1 or more")
    log = log or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    listen_dir = out / "listen"
    fingerprint = settings.fingerprint() + "-" + _model_identity(settings)
    partial = out / PARTIAL_NAME
    done = _load_partial(partial, fingerprint)
    tasks = [(name, i) for name in settings.episode_sets() for i in range(settings.episodes)]
    pending = [t for t in tasks if f"{t[0]}/{t[1]:04d}" not in done]
    resumed = len(tasks) - len(pending)
    if resumed:
        log(f"resuming: {resumed} of {len(tasks)} episodes already evaluated in {partial}")
    else:
        with open(partial, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"fingerprint": fingerprint, "settings": asdict(settings)}) + "\n")
        done = {}
    started = time.time()
    bar = tqdm(total=len(tasks), initial=resumed, unit="episode", desc="evaluating", disable=not progress,
               dynamic_ncols=True)
    with open(partial, "a", encoding="utf-8") as fh:

        def collect(result: dict) -> None:
            done[result["episode"]] = result
            fh.write(json.dumps(result, default=_json_default) + "\n")
            fh.flush()
            bar.update(1)

        if in_process:
            _single_thread(settings)
            worker = _Worker(settings, str(listen_dir))
            for task in pending:
                collect(worker.evaluate(*task))
        elif pending:
            import multiprocessing
            from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

            saved = {k: os.environ.get(k) for k in _THREAD_ENV}
            os.environ.update({k: "1" for k in _THREAD_ENV})  # inherited by the spawned workers
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker,
                                         initargs=(json.dumps(asdict(settings)), str(listen_dir))) as pool:
                    futures = {pool.submit(_run_task, task) for task in pending}
                    while futures:
                        # FIRST_COMPLETED: collect (write, count) every episode as it ends;
                        # FIRST_EXCEPTION would wait for all of them when none fails.
                        finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                        for future in finished:
                            try:
                                collect(future.result())
                            except BaseException:
                                for other in futures:
                                    other.cancel()
                                raise
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
    bar.close()
    order = {t: n for n, t in enumerate(tasks)}
    results = sorted((done[f"{s}/{i:04d}"] for s, i in tasks), key=lambda r: order[_task_of(r["episode"])])
    rows = [row for r in results for row in sorted(r["rows"], key=_row_order)]
    listen = [r["listen"] for r in results if r.get("listen")]
    now = [r.get("cpu_seconds", float("nan")) for r in results]  # resumed episodes included
    return EvalOutcome(rows=rows, listen=listen, seconds=time.time() - started,
                       evaluated_now=len(pending), resumed=resumed,
                       cpu_seconds_per_episode=float(np.mean(now)) if now else float("nan"))


def _model_identity(settings: EvalSettings) -> str:
    """Hash of what the systems load (ONNX model id, checkpoint file sizes and times, manifest),
    so a re-exported model or a newer checkpoint is never mixed with resumed results."""
    parts: list[str] = []
    if any(s in settings.systems for s in ("fewshot-onnx", "fewshot-stream")):
        from fewshot_sep.realtime.model_files import ModelFiles

        parts.append(ModelFiles.load(settings.model).model_id)
    for run in (settings.checkpoint, settings.onehot_checkpoint):
        if run:
            path = Path(run)
            files = sorted(path.glob("*.pt")) + sorted(path.glob("*.json")) if path.is_dir() else [path]
            parts += [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.is_file()]
    manifest = Path(settings.data) / "manifest.csv"
    if manifest.is_file():
        parts.append(f"manifest:{manifest.stat().st_size}:{manifest.stat().st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def per_channel(separate: Callable[..., np.ndarray], mixture: np.ndarray, *others: np.ndarray) -> np.ndarray:
    """``separate(mixture, *others)`` on a mono ``[n]`` mixture, or channel by channel on a
    ``[C, n]`` one (as the product's engine separates each channel on its own)."""
    if mixture.ndim == 1:
        return separate(mixture, *others)
    return np.stack([separate(channel, *(o[c] for o in others)) for c, channel in enumerate(mixture)])


def _task_of(episode_id: str) -> tuple[str, int]:
    split, index = episode_id.split("/")
    return split, int(index)


def _row_order(row: dict) -> tuple:
    system = SYSTEM_ORDER.index(row["system"]) if row["system"] in SYSTEM_ORDER else 99
    return system, row["k"], {"-": 0, "without": 1, "with": 2}[row["negatives"]]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
