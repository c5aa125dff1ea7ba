"""Cost of the separator per STFT frame (one frame = 256 samples = 5.8 ms at 44.1 kHz).

Prints a table: parameters, MFLOPs per frame (2 x multiply-adds of convs, linears
and the GRU, per channel), ms per frame for a stereo signal (batch 2) in one long
call, and ms per streamed call of one frame (the live worst case), single-threaded,
in torch and (if available) onnxruntime. The live budget is well under 1 ms per
stereo frame on one core.

    python benchmarks/bench_model.py [--config configs/release.yaml] [--frames 430]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fewshot_sep.export.graphs import input_planes
from fewshot_sep.model import build_model
from fewshot_sep.runs.config import load_config

REPO = Path(__file__).resolve().parent.parent


def count_macs_per_frame(separator: torch.nn.Module, conditioning_dim: int, frames: int = 64) -> float:
    """Multiply-adds per frame and batch item of convs, linears and GRUs (hooks on one forward)."""
    total = [0.0]

    def conv_hook(mod, inp, out):
        w = mod.weight
        if isinstance(mod, torch.nn.ConvTranspose2d):
            total[0] += inp[0].numel() / inp[0].shape[0] * w.shape[1] * w.shape[2] * w.shape[3]
        else:
            total[0] += out.numel() / out.shape[0] * w[0].numel()

    def linear_hook(mod, inp, out):
        total[0] += out.numel() / out.shape[0] * mod.in_features

    def gru_hook(mod, inp, out):
        total[0] += inp[0].shape[1] * 3 * mod.hidden_size * (mod.input_size + mod.hidden_size)

    hooks = []
    for m in separator.modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, torch.nn.GRU):
            hooks.append(m.register_forward_hook(gru_hook))
    with torch.no_grad():
        separator(torch.rand(1, input_planes(separator), 513, frames), torch.randn(1, conditioning_dim))
    for h in hooks:
        h.remove()
    # the context MLP runs once per call, not per frame: subtract it
    ctx = sum(m.in_features * m.out_features for m in separator.context.modules() if isinstance(m, torch.nn.Linear))
    return (total[0] - ctx) / frames


def per_call_stats(seconds: list[float]) -> tuple[float, float]:
    """Median and 90th percentile of per-call times, in ms."""
    arr = np.array(seconds) * 1e3
    return float(np.median(arr)), float(np.percentile(arr, 90))


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "release.yaml"))
    parser.add_argument("--frames", type=int, default=430, help="frames of the long call (430 = 2.5 s)")
    parser.add_argument("--stream-frames", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    if config["model"]["conditioning"] == "onehot":
        config["model"]["classes"] = [0]
    model = build_model(config).eval()
    sep = model.separator
    d = model.conditioning_dim
    params = sum(p.numel() for p in sep.parameters())
    enc_params = sum(p.numel() for p in model.encoder.parameters())
    mflops = 2 * count_macs_per_frame(sep, d) / 1e6

    rng = np.random.default_rng(0)
    mag = torch.from_numpy(np.abs(rng.standard_normal((2, input_planes(sep), 513, args.frames))).astype(np.float32))
    cond = torch.randn(2, d)
    rows = []
    with torch.no_grad():
        sep(mag, cond)
        full = best_of(lambda: sep(mag, cond), args.repeats) / args.frames * 1e3

        states = sep.initial_states(2)
        call_times = []
        for t in range(args.stream_frames):
            frame = mag[..., t:t + 1]
            t0 = time.perf_counter()
            out = sep(frame, cond, *states)
            call_times.append(time.perf_counter() - t0)
            states = list(out[1:])
    rows.append(("torch", full, *per_call_stats(call_times)))

    try:
        import onnxruntime as ort

        names = [f"state_{i}" for i in range(len(sep.state_shapes))]
        dyn = {"magnitude": {0: "B", 3: "T"}, "conditioning": {0: "B"}, "mask": {0: "B", 3: "T"}}
        for n in names:
            dyn[n] = {0: "B"}
            dyn[n + "_out"] = {0: "B"}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sep.onnx")
            torch.onnx.export(sep, (mag[..., :4], cond, *sep.initial_states(2)), path,
                              input_names=["magnitude", "conditioning"] + names,
                              output_names=["mask"] + [n + "_out" for n in names], dynamic_axes=dyn,
                              opset_version=17, dynamo=False)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            zeros = {n: s.numpy() for n, s in zip(names, sep.initial_states(2))}
            feed = {"magnitude": mag.numpy(), "conditioning": cond.numpy(), **zeros}
            sess.run(None, feed)
            full_ort = best_of(lambda: sess.run(None, feed), args.repeats) / args.frames * 1e3
            mag_np, cond_np = mag.numpy(), cond.numpy()

            states = dict(zeros)
            call_times = []
            for t in range(args.stream_frames):
                feed_t = {"magnitude": np.ascontiguousarray(mag_np[..., t:t + 1]), "conditioning": cond_np, **states}
                t0 = time.perf_counter()
                out = sess.run(None, feed_t)
                call_times.append(time.perf_counter() - t0)
                states = dict(zip(names, out[1:]))
        rows.append(("onnxruntime", full_ort, *per_call_stats(call_times)))
    except Exception as err:  # benchmark still reports torch figures
        print(f"(onnxruntime rows skipped: {type(err).__name__}: {err})")

    print(f"# separator cost ({Path(args.config).name}); {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}, 1 thread, best of {args.repeats}")
    print(f"separator parameters: {params:,}   encoder parameters: {enc_params:,}   "
          f"MFLOPs per frame per channel: {mflops:.2f}   (stereo: {2 * mflops:.2f})")
    print("| runtime | ms / stereo frame, one call of "
          f"{args.frames} frames (best) | ms / streamed call of 1 stereo frame, median | p90 |")
    print("|---|---:|---:|---:|")
    for name, full_ms, stream_med, stream_p90 in rows:
        print(f"| {name} | {full_ms:.3f} | {stream_med:.3f} | {stream_p90:.3f} |")
    print("(one frame = 256 samples = 5.80 ms of audio at 44.1 kHz)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
