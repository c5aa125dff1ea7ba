"""What the run-time column and the training column agree on: one owner per shared concept.

Torch-free and numpy-free (standard library only), so every layer may import it:
model, export, the run-time engine, presets, the plugin and the hosts.

- :mod:`~fewshot_sep.contract.signal`: the model rate, the STFT framing
  (``SAMPLE_RATE``, ``N_FFT``, ``HOP``, ``N_BINS``, ``WINDOW``) and the latency formula;
- :mod:`~fewshot_sep.contract.conditioning`: the conditioning vector's layout (``D = 2 E + 1``);
- :mod:`~fewshot_sep.contract.controls`: the ``mode`` values and the ``mix`` range;
- :mod:`~fewshot_sep.contract.card`: the model card's format, its checks and the model id.

docs/internals.md states the same contracts in prose.
"""

from fewshot_sep.contract.card import (
    CARD_NAME,
    ENCODER_FILE,
    FORMAT_VERSION,
    SEPARATOR_FILE,
    SUPPORTED_FORMAT_VERSIONS,
    build_card,
    model_id_of,
    validate_card,
)
from fewshot_sep.contract.conditioning import conditioning_dim, conditioning_slices, embedding_dim_of
from fewshot_sep.contract.controls import MODES, check_mix, check_mode
from fewshot_sep.contract.signal import HOP, LATENCY_SAMPLES, N_BINS, N_FFT, SAMPLE_RATE, WINDOW, latency_samples

__all__ = [
    "SAMPLE_RATE", "N_FFT", "HOP", "N_BINS", "WINDOW", "LATENCY_SAMPLES", "latency_samples",
    "conditioning_dim", "embedding_dim_of", "conditioning_slices",
    "MODES", "check_mode", "check_mix",
    "CARD_NAME", "SEPARATOR_FILE", "ENCODER_FILE", "FORMAT_VERSION", "SUPPORTED_FORMAT_VERSIONS",
    "build_card", "model_id_of", "validate_card",
]
