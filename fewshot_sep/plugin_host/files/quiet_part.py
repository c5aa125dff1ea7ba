"""The "quiet part" check of `separate`: removing an instrument that hardly plays in the mix.

When the separator's estimate of the instrument (what ``remove`` takes away) is far
below the mix, the removed version is close to the input, and the little that was
taken away is mostly other instruments' sound: the result may be worse than the input.
`quiet_part_warnings` measures the estimate's energy relative to the mix from the
energies `stream_file` reports (one pass, no extra processing) and warns below
`QUIET_PART_DB`.

No torch here.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

#: An instrument estimate this far below the mix (dB, energy over the whole file) gets a warning.
QUIET_PART_DB = -20.0


def part_level_db(part_energy: float, mix_energy: float) -> float:
    """10 log10(part / mix): the part's level relative to the mix in dB (-inf for silence)."""
    if part_energy <= 0.0:
        return -math.inf
    return 10.0 * math.log10(part_energy / mix_energy)


def quiet_part_warnings(task: Any, processors: Sequence[Any], result: Any) -> list[str]:
    """Warnings for the outputs of `task` that remove an instrument that is quiet in the mix.

    Args:
        task: a FileTask (``outputs``, ``labels``: ``(preset, mode)`` per target, outputs then residual).
        processors: the processors that wrote the outputs (separators have ``mix``).
        result: the FileResult: ``input_energy``, ``output_energy`` and ``difference_energy``
            (sums of squares, per output).

    Returns:
        One message per removed instrument whose estimate is below `QUIET_PART_DB`.
    """
    if result.input_energy <= 0.0 or not task.labels:
        return []
    n_outputs = len(task.outputs)
    warnings = []
    for index, (preset, mode) in enumerate(task.labels):
        if mode != "remove":
            continue
        if index >= n_outputs:
            # The residual: input minus the isolated output(s); measured for one isolated output.
            if n_outputs != 1:
                continue
            part = result.output_energy[0]
        else:
            mix = getattr(processors[index], "mix", None)  # a chain has none: its effects blur the measure
            if mix is None or getattr(processors[index], "mode", "remove") != "remove" or mix <= 0:
                continue
            part = result.difference_energy[index] / (mix * mix)  # input - output = mix * estimate
        level = part_level_db(part, result.input_energy)
        if level < QUIET_PART_DB:
            shown = "silent" if level == -math.inf else f"{level:.1f} dB below the mix"
            warnings.append(
                f"{task.input}: warning: {preset!r} is quiet in this mix (its estimate is {shown}; the check "
                f"warns under {QUIET_PART_DB:g} dB), so the removed version is close to the input and may "
                "sound worse than it: check that this instrument plays in the file, or use another preset"
            )
    return warnings
