"""What `fewshot-sep separate` does, as data: one processor spec plus one task per file.

The command line and :func:`fewshot_sep.plugin_host.distributed_batch.separate_files`
both turn their options into a :class:`ProcessorSpec` (how to build the
separators or chain: small JSON-able values, presets as their JSON text) and a
list of :class:`FileTask` (one input, its output paths). A local run and a Dask
worker then do the same thing with them: :func:`build_processors` once, and
:func:`run_file_task` (which is :func:`stream_file`) per file. So a file comes out
byte for byte the same wherever it ran.

No torch and no dask here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from fewshot_sep.plugin_host.file_processing import (
    DEFAULT_CHUNK_FRAMES,
    READABLE_EXTENSIONS,
    RESIDUAL_NAME,
    FileResult,
    ProgressCallback,
    expand_inputs,
    safe_file_stem,
    stream_file,
)
from fewshot_sep.utils.errors import UserError


@dataclass(frozen=True)
class ProcessorSpec:
    """How to build a batch's processors; travels with every distributed task (a few kB).

    Attributes:
        kind: ``"single"`` (one separator), ``"stems"`` (one per preset + residual) or ``"chain"``.
        presets: the presets' JSON documents as text (for a chain: its default preset, if any).
        names: output stem names (``"stems"`` only), in preset order.
        mode, mix: overrides (None = each preset's default).
        chain: the chain file's JSON document as text (``"chain"`` only).
        chain_file: the chain file's path (relative paths in the chain are resolved
            against its folder, and errors name it).
        model: model folder given by the user (``--model`` or ``$FEWSHOT_SEP_MODEL``);
            None = each machine's packaged model.
        model_id: id of the model the client resolved; a worker with another model refuses.
    """

    kind: str
    presets: tuple[str, ...]
    names: tuple[str, ...] = ()
    mode: str | None = None
    mix: float | None = None
    chain: str | None = None
    chain_file: str | None = None
    model: str | None = None
    model_id: str = ""

    @property
    def key(self) -> str:
        """A short hash of everything that decides the output samples (for caches and the manifest)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class FileTask:
    """One input file and where its outputs go (paths as strings: they cross machines).

    Attributes:
        input: the input file.
        outputs: one output per processor (for stems, in preset order).
        residual: the residual stem's path (``--stems`` only).
        bit_depth: bits per sample for PCM outputs.
        chunk_seconds: seconds read per chunk (None = DEFAULT_CHUNK_FRAMES frames).
    """

    input: str
    outputs: tuple[str, ...]
    residual: str | None = None
    bit_depth: int = 24
    chunk_seconds: float | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        """Every file this task writes."""
        return self.outputs + ((self.residual,) if self.residual else ())


def plan_separation(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    presets: Sequence[Any] = (),
    *,
    mode: str | None = None,
    mix: float | None = None,
    chain: str | os.PathLike | None = None,
    stems: bool = False,
    fmt: str | None = None,
    bit_depth: int = 24,
    chunk_seconds: float | None = None,
    model: Any = None,
) -> tuple[ProcessorSpec, list[FileTask], list[Any]]:
    """Check the options of a separation job and turn them into a spec, file tasks and processors.

    The processors (built from the spec with :func:`build_processors`) are what a local
    run uses; a distributed run sends the spec and builds them on each worker.

    Presets are resolved here (``builtin:NAME``, library names, files, ``Preset``
    objects) against the model, so workers need neither the user's preset library nor
    the files. `model` is a folder, ``ModelFiles`` or None (the packaged model or
    ``$FEWSHOT_SEP_MODEL``); `chunk_seconds` is in seconds of audio.

    Raises:
        UserError: any bad option (a usage problem: nothing has been written yet).
    """
    from fewshot_sep.plugin_host.separator_plugin import check_mix, load_model, resolve_preset_ref
    from fewshot_sep.realtime.model_files import ENV_VAR

    if mix is not None:
        check_mix(mix)
    if chunk_seconds is not None and not chunk_seconds > 0:
        raise UserError(f"--chunk-seconds {chunk_seconds} is invalid: give a positive number of seconds")
    files = expand_inputs(inputs)
    batch = len(inputs) > 1 or any(Path(p).expanduser().is_dir() for p in inputs)
    out = Path(output).expanduser()
    model_files = load_model(model)
    # The folder travels to workers only when the user chose one: otherwise each machine
    # uses its own packaged model (same id checked by build_processors).
    given_model = getattr(model, "folder", model) if model is not None else os.environ.get(ENV_VAR)
    model_path = str(Path(given_model).expanduser().absolute()) if given_model else None

    def preset_texts(refs: Sequence[Any]) -> tuple[str, ...]:
        return tuple(resolve_preset_ref(ref, model_files).to_text() for ref in refs)

    common = dict(bit_depth=bit_depth, chunk_seconds=chunk_seconds)
    if stems:
        if chain:
            raise UserError("--stems and --chain cannot be combined: --stems runs one separator per --preset")
        if not presets:
            raise UserError("--stems needs at least one --preset (repeat --preset for each instrument)")
        if mode == "remove":
            raise UserError("--stems isolates each preset's instrument; --mode remove does not apply "
                            "(the 'residual' file holds everything else)")
        if mix is not None:
            raise UserError("--mix does not apply to --stems (each stem is fully separated)")
        if out.suffix and out.suffix.lower() in READABLE_EXTENSIONS:
            raise UserError(f"with --stems, --output is a folder, not a file: got {str(out)!r}")
        texts = preset_texts(presets)
        names = unique_names([safe_file_stem(json.loads(t)["name"]) for t in texts])
        if RESIDUAL_NAME in names:
            raise UserError(f"a preset is named {RESIDUAL_NAME!r}, which clashes with the residual stem: rename it")
        spec = ProcessorSpec("stems", texts, tuple(names), "isolate", 1.0, model=model_path,
                             model_id=model_files.model_id)
        tasks = []
        for path in files:
            folder = out / safe_file_stem(path.stem) if batch else out
            ext = output_extension(path, fmt)
            tasks.append(FileTask(
                _abs(path), tuple(_abs(folder / f"{n}{ext}") for n in names),
                residual=_abs(folder / f"{RESIDUAL_NAME}{ext}"), **common,
            ))
        return spec, tasks, build_processors(spec, model_files)

    if chain:
        if len(presets) > 1:
            raise UserError("give at most one --preset with --chain (it fills separators that name none)")
        from fewshot_sep.plugin_host.chain_file import read_chain_document

        chain_path = Path(chain).expanduser()
        spec = ProcessorSpec("chain", preset_texts(presets[:1]), mode=mode, mix=mix,
                             chain=json.dumps(read_chain_document(chain_path)), chain_file=str(chain_path.absolute()),
                             model=model_path, model_id=model_files.model_id)
    else:
        if not presets:
            raise UserError("give a preset with --preset (builtin:NAME, a library name or a .json file)")
        if len(presets) > 1:
            raise UserError("several --preset values need --stems (one output file per preset)")
        spec = ProcessorSpec("single", preset_texts(presets), mode=mode, mix=mix, model=model_path,
                             model_id=model_files.model_id)
    processors = build_processors(spec, model_files)  # also checks mode, mix and the chain now
    to_folder = batch or out.is_dir() or str(output).endswith(("/", os.sep))
    if not to_folder:
        from fewshot_sep.utils.audio import check_writable_extension

        check_writable_extension(out)  # a clear error before any work
    targets = [out / f"{p.stem}{output_extension(p, fmt)}" if to_folder else out for p in files]
    clashes = _duplicates(targets)
    if clashes:
        raise UserError(
            f"several inputs would be written to {clashes[0]}: give inputs with different names "
            "or process them separately"
        )
    return spec, [FileTask(_abs(p), (_abs(t),), **common) for p, t in zip(files, targets)], processors


def build_processors(spec: ProcessorSpec, model: Any = None) -> list[Any]:
    """The processors of `spec`, one per output (stems) or one in all.

    Args:
        spec: from :func:`plan_separation`.
        model: ModelFiles to use (None = load ``spec.model``, or the packaged model).

    Raises:
        UserError: the model here is not the one the spec was planned with.
    """
    from fewshot_sep.plugin_host.separator_plugin import FewShotSeparator, load_model

    model = load_model(model if model is not None else spec.model)
    if spec.model_id and model.model_id != spec.model_id:
        raise UserError(
            f"this machine's model {str(model.folder)!r} has id {model.model_id}, but the job was "
            f"planned with model {spec.model_id}: install the same fewshot-sep version on every "
            "worker, or pass --model with a folder on shared storage"
        )
    presets = [_preset(text) for text in spec.presets]
    if spec.kind == "stems":
        return [FewShotSeparator(p, mode="isolate", mix=1.0, model=model) for p in presets]
    if spec.kind == "chain":
        from fewshot_sep.plugin_host.chain_file import chain_from_json

        where = str(spec.chain_file or "chain")
        return [chain_from_json(
            json.loads(spec.chain or "{}"), where=where, base=Path(where).parent, model=model,
            default_preset=presets[0] if presets else None, mode_override=spec.mode, mix_override=spec.mix,
        )]
    return [FewShotSeparator(presets[0], mode=spec.mode, mix=spec.mix, model=model)]


def run_file_task(
    task: FileTask,
    processors: Sequence[Any],
    *,
    progress: bool | None = None,
    progress_callback: ProgressCallback | None = None,
) -> FileResult:
    """Separate one file: :func:`stream_file` with the task's paths (the one per-file code path)."""
    return stream_file(
        processors, task.input, list(task.outputs), residual_path=task.residual,
        chunk_frames=chunk_frames(task), bit_depth=task.bit_depth,
        progress=progress, progress_callback=progress_callback,
    )


def chunk_frames(task: FileTask) -> int:
    """Frames per chunk for `task`: its chunk_seconds at the file's own rate, else the default."""
    if task.chunk_seconds is None:
        return DEFAULT_CHUNK_FRAMES
    from fewshot_sep.utils.audio import audio_info

    try:
        rate = audio_info(task.input)[0]
    except UserError:
        rate = 44100  # stream_file itself reports the unreadable file
    return max(1, int(round(task.chunk_seconds * rate)))


def output_extension(input_path: Path, fmt: str | None) -> str:
    """The output extension for `input_path`: `fmt` if given (checked), else the input's if writable, else .wav."""
    from fewshot_sep.utils.audio import WRITABLE_EXTENSIONS

    if fmt:
        ext = fmt.lower() if fmt.startswith(".") else "." + fmt.lower()
        if ext not in WRITABLE_EXTENSIONS:
            raise UserError(
                f"--format {fmt!r} is not supported: use one of "
                f"{', '.join(e.lstrip('.') for e in WRITABLE_EXTENSIONS)}"
            )
        return ext
    ext = input_path.suffix.lower()
    return ext if ext in WRITABLE_EXTENSIONS else ".wav"


def unique_names(names: list[str]) -> list[str]:
    """`names` with repeats numbered (``bass``, ``bass_2``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 1
            out.append(name)
    return out


def _preset(text: str) -> Any:
    from fewshot_sep.presets import Preset

    return Preset.from_json(json.loads(text), where="preset of the job")


def _abs(path: Path) -> str:
    # Absolute, not resolved: on shared storage the path as mounted is what workers see.
    return str(Path(path).absolute())


def _duplicates(paths: list[Path]) -> list[Path]:
    seen, dups = set(), []
    for p in paths:
        key = p.resolve()
        if key in seen:
            dups.append(p)
        seen.add(key)
    return dups
