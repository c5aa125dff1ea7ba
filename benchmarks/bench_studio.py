"""Speed of the studio tier (a look-ahead separator) beside the live model and Open-Unmix's architecture.

Usage:
    python benchmarks/bench_studio.py [--lookahead 16] [--seconds 60] [--reps 3] [--no-write]

All three separate the same stereo 44.1 kHz signal offline on this machine, in one
process with 2 threads, median of ``--reps`` runs, as x real time (seconds of audio
per second of wall time):
- live: the packaged model (``fewshot_sep/assets/model``) through the engine's file
  path (``StreamingSeparator.process_offline``, per-channel masks);
- studio: the release checkpoint with a look-ahead layer of ``--lookahead`` frames
  (untrained weights cost the same as trained ones), exported to ONNX and run through
  the same engine path; its latency is reported beside the live model's;
- Open-Unmix's architecture for one target (Stöter et al. 2019: 4096-point STFT, hop
  1024, bins up to 16 kHz, fc + 3-layer bidirectional LSTM of 2 x 256 + skip, two fc
  layers, magnitude estimate times the mixture phase), built here in torch from the
  paper's description with random weights, torch with 2 intra-op threads: the same
  arithmetic as the published model, not its trained weights.
The table goes between markers in docs/benchmarks.md, section "Studio tier".
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from doc_sections import write_doc_section
from torch import nn

from fewshot_sep.export import export_model
from fewshot_sep.realtime.engine import StreamingSeparator
from fewshot_sep.realtime.model_files import ModelFiles, packaged_model_dir
from fewshot_sep.runs.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN studio-tier (benchmarks/bench_studio.py) -->"
END = "<!-- END studio-tier -->"
RATE = 44100


class UnmixArchitecture(nn.Module):
    """Open-Unmix's separator for one target, from the paper's description (random weights).

    ``forward(magnitude [C, F, T]) -> magnitude estimate [C, F, T]`` for one stereo track
    (``C = 2`` channels, ``F = 2049`` bins of a 4096-point STFT).
    """

    def __init__(self, channels: int = 2, n_bins: int = 2049, max_bin: int = 1487, hidden: int = 512) -> None:
        super().__init__()
        self.channels, self.n_bins, self.max_bin = channels, n_bins, max_bin
        self.input_shift = nn.Parameter(torch.zeros(max_bin))
        self.input_scale = nn.Parameter(torch.ones(max_bin))
        self.fc1 = nn.Linear(max_bin * channels, hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.lstm = nn.LSTM(hidden, hidden // 2, num_layers=3, bidirectional=True)
        self.fc2 = nn.Linear(2 * hidden, hidden, bias=False)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.fc3 = nn.Linear(hidden, n_bins * channels, bias=False)
        self.bn3 = nn.BatchNorm1d(n_bins * channels)
        self.output_scale = nn.Parameter(torch.ones(n_bins))
        self.output_shift = nn.Parameter(torch.ones(n_bins))

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        frames = magnitude.shape[-1]
        x = magnitude.permute(2, 0, 1)[..., : self.max_bin]                # [T, C, max_bin]
        x = (x + self.input_shift) * self.input_scale
        x = torch.tanh(self.bn1(self.fc1(x.reshape(frames, -1))))           # [T, H]
        y, _ = self.lstm(x.unsqueeze(1))                                    # [T, 1, H]
        x = torch.cat([x, y[:, 0]], dim=-1)
        x = torch.relu(self.bn2(self.fc2(x)))
        x = self.bn3(self.fc3(x)).reshape(frames, self.channels, self.n_bins)
        x = torch.relu(x * self.output_scale + self.output_shift)
        return x.permute(1, 2, 0) * magnitude


def unmix_separate(model: UnmixArchitecture, audio: np.ndarray) -> np.ndarray:
    """``audio [2, n]`` -> estimate ``[2, n]`` (STFT, model, mixture phase, inverse STFT), torch."""
    window = torch.hann_window(4096)
    x = torch.from_numpy(audio)
    spec = torch.stft(x, 4096, 1024, window=window, return_complex=True)   # [2, 2049, T]
    with torch.inference_mode():
        magnitude = model(spec.abs())
    estimate = magnitude * torch.exp(1j * spec.angle())
    return torch.istft(estimate, 4096, 1024, window=window, length=audio.shape[-1]).numpy()


def studio_model_dir(lookahead: int, out: Path) -> Path:
    """The release checkpoint with an (untrained) look-ahead layer, exported to ``out``."""
    model, config = load_checkpoint(REPO / "models" / "release")
    config = copy.deepcopy(config)
    config["model"].update(lookahead_frames=lookahead, lookahead_hidden=config["model"].get("gru_hidden", 128))
    from fewshot_sep.model import build_model

    studio = build_model(config)
    studio.load_state_dict(model.state_dict(), strict=False)
    studio.eval()
    export_model(studio, out, config=config, name=f"studio-bench-L{lookahead}", show_progress=False)
    return out


def median_speed(run, seconds: float, reps: int) -> float:
    """x real time of ``run()`` on ``seconds`` of audio, median of ``reps`` timed runs after a warm-up."""
    run()
    walls = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        walls.append(time.perf_counter() - start)
    return seconds / statistics.median(walls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lookahead", type=int, default=16, help="look-ahead frames of the studio model")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the stereo test signal")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per system (median)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    n = int(args.seconds * RATE)
    t = np.arange(n) / RATE
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n),
                      0.3 * np.sin(2 * np.pi * 331 * t) + 0.05 * rng.standard_normal(n)]).astype(np.float32)
    vector = np.zeros(ModelFiles.load(packaged_model_dir()).conditioning_dim, np.float32)
    vector[0] = 1.0
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_studio_") as tmp:
        models = [("live (packaged model)", packaged_model_dir()),
                  (f"studio (look-ahead {args.lookahead} frames)", studio_model_dir(args.lookahead, Path(tmp) / "m"))]
        for label, folder in models:
            files = ModelFiles.load(folder)
            engine = StreamingSeparator(files, sample_rate=RATE, num_channels=2, conditioning=vector,
                                        offline_threads=2)
            speed = median_speed(lambda: engine.process_offline(audio, align=True), args.seconds, args.reps)
            rows.append((label, speed, f"{engine.latency_samples} samples ({1000 * engine.latency_samples / RATE:.1f} ms)"))
            print(f"{label}: {speed:.1f}x real time", flush=True)
        torch.manual_seed(0)
        unmix = UnmixArchitecture().eval()
        speed = median_speed(lambda: unmix_separate(unmix, audio), args.seconds, args.reps)
        rows.append(("Open-Unmix architecture, one target (torch, random weights)", speed, "whole file (bidirectional)"))
        print(f"open-unmix architecture: {speed:.1f}x real time", flush=True)
    load = os.getloadavg()[0]
    table = [f"Offline separation of {args.seconds:.0f} s of stereo 44.1 kHz audio, 2 threads, median of "
             f"{args.reps} runs, on this machine ({platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores; 1-minute load average {load:.1f} at the end). Command: "
             f"`python benchmarks/bench_studio.py --lookahead {args.lookahead} --seconds {args.seconds:g} "
             f"--reps {args.reps}`.", "",
             "| system | x real time | latency |", "|---|---:|---|"]
    table += [f"| {label} | {speed:.1f} | {latency} |" for label, speed, latency in rows]
    markdown = "\n".join(table)
    print(markdown)
    if not args.no_write:
        write_doc_section(REPO / "docs" / "benchmarks.md", BEGIN, END, "## Studio tier\n\n" + markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
