"""What `fewshot-sep separate` does, as data: one processor spec plus one task per file.

The command line and :func:`fewshot_sep.plugin_host.files.batch.separate_files`
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

from fewshot_sep.contract.signal import SAMPLE_RATE
from fewshot_sep.plugin_host.files.processing import (
    DEFAULT_CHUNK_FRAMES,
    READABLE_EXTENSIONS,
    RESIDUAL_NAME,
    FileResult,
    ProgressCallback,
    check_targets,
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
        both: ``--mode both``: one isolating separator, the removed file is the residual.
        threads: threads per separator (`FewShotSeparator.threads`).
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
    both: bool = False
    threads: int = 1

    @property
    def key(self) -> str:
        """A short hash of everything that decides the output samples (for caches and the manifest).

        Fields at their defaults are left out, so a job keeps its key across versions that
        add options; `threads` is left out always (it decides speed, not the result).
        """
        fields = asdict(self)
        fields.pop("threads")
        if not fields["both"]:
            fields.pop("both")
        text = json.dumps(fields, sort_keys=True)
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
        labels: ``(preset, mode)`` of each target (outputs, then the residual), for reports.
    """

    input: str
    outputs: tuple[str, ...]
    residual: str | None = None
    bit_depth: int = 24
    chunk_seconds: float | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        """Every file this task writes."""
        return self.outputs + ((self.residual,) if self.residual else ())


def plan_separation(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    presets: Sequence[Any] = (),
    *,
    mode: str | Sequence[str] | None = None,
    mix: float | None = None,
    chain: str | os.PathLike | None = None,
    stems: bool = False,
    fmt: str | None = None,
    bit_depth: int = 24,
    chunk_seconds: float | None = None,
    model: Any = None,
    filename: str | None = None,
    threads: int = 1,
) -> tuple[ProcessorSpec, list[FileTask], list[Any]]:
    """Check the options of a separation job and turn them into a spec, file tasks and processors.

    The processors (built from the spec with :func:`build_processors`) are what a local
    run uses; a distributed run sends the spec and builds them on each worker.

    Presets are resolved here (``builtin:NAME``, library names, files, ``Preset``
    objects) against the model, so workers need neither the user's preset library nor
    the files. `model` is a folder, ``ModelFiles`` or None (the packaged model or
    ``$FEWSHOT_SEP_MODEL``); `chunk_seconds` is in seconds of audio. `mode` is
    ``"isolate"``, ``"remove"``, ``"both"`` or a list of them (both: one pass, the removed
    file is the input minus the isolated one); `filename` a template of
    :mod:`fewshot_sep.plugin_host.files.output_names`; `threads` threads per separator.

    Raises:
        UserError: any bad option (a usage problem: nothing has been written yet).
    """
    from fewshot_sep.plugin_host.files.output_names import check_template
    from fewshot_sep.contract.controls import check_mix
    from fewshot_sep.realtime.model_files import ENV_VAR, ModelFiles

    modes = parse_modes(mode)
    if mix is not None:
        check_mix(mix)
    if chunk_seconds is not None and not chunk_seconds > 0:
        raise UserError(f"--chunk-seconds {chunk_seconds} is invalid: give a positive number of seconds")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UserError(f"--threads {threads!r} is invalid: give a whole number of threads, 1 or more")
    template = check_template(filename) if filename is not None else None
    files = expand_inputs(inputs)
    out = Path(output).expanduser()
    if template is not None and out.suffix.lower() in READABLE_EXTENSIONS and not out.is_dir():
        raise UserError(f"with --filename, --output is the folder the names are made in, not a file: got "
                        f"{str(out)!r}; e.g. --output out/ --filename '{{track}}-{{mode}}.{{ext}}'")
    model_files = ModelFiles.load(model)
    # The folder travels to workers only when the user chose one: otherwise each machine
    # uses its own packaged model (same id checked by build_processors).
    given_model = getattr(model, "folder", model) if model is not None else os.environ.get(ENV_VAR)
    model_path = str(Path(given_model).expanduser().absolute()) if given_model else None
    ids = dict(model=model_path, model_id=model_files.model_id, threads=threads)
    if stems:
        spec = _stems_spec(presets, modes, mix, chain, out, model_files, ids)
    else:
        spec = _single_spec(presets, modes, mix, chain, model_files, ids)
    processors = build_processors(spec, model_files)  # also checks mode, mix and the chain now
    batch = len(inputs) > 1 or any(Path(p).expanduser().is_dir() for p in inputs)
    to_folder = batch or out.is_dir() or str(output).endswith(("/", os.sep))
    tasks = _file_tasks(spec, processors, files, out, template, batch=batch, to_folder=to_folder, fmt=fmt,
                        bit_depth=bit_depth, chunk_seconds=chunk_seconds)
    return spec, tasks, processors


MODE_CHOICES = ("isolate", "remove", "both")


def parse_modes(mode: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``None`` (the preset's default), ``("isolate",)``, ``("remove",)`` or ``("isolate", "remove")``.

    Takes ``"isolate"``, ``"remove"``, ``"both"`` or a list of them (``--mode`` may be repeated).

    Raises:
        UserError: an unknown mode.
    """
    if mode is None:
        return None
    given = [mode] if isinstance(mode, str) else list(mode)
    if not given:
        return None
    chosen = set()
    for value in given:
        if value not in MODE_CHOICES:
            raise UserError(f"--mode {value!r} is invalid: use isolate, remove or both (or repeat --mode)")
        chosen.update(("isolate", "remove") if value == "both" else (value,))
    return tuple(m for m in ("isolate", "remove") if m in chosen)


def _preset_texts(refs: Sequence[Any], model_files: Any) -> tuple[str, ...]:
    from fewshot_sep.plugin_host.plugin.separator import resolve_preset_ref

    return tuple(resolve_preset_ref(ref, model_files).to_text() for ref in refs)


def _stems_spec(presets, modes, mix, chain, out: Path, model_files, ids: dict) -> ProcessorSpec:
    if chain:
        raise UserError("--stems and --chain cannot be combined: --stems runs one separator per --preset")
    if not presets:
        raise UserError("--stems needs at least one --preset (repeat --preset for each instrument)")
    if modes is not None and "remove" in modes:
        raise UserError("--stems isolates each preset's instrument; --mode remove does not apply "
                        "(the 'residual' file holds everything else)")
    if mix is not None:
        raise UserError("--mix does not apply to --stems (each stem is fully separated)")
    if out.suffix and out.suffix.lower() in READABLE_EXTENSIONS:
        raise UserError(f"with --stems, --output is a folder, not a file: got {str(out)!r}")
    texts = _preset_texts(presets, model_files)
    names = unique_names([safe_file_stem(json.loads(t)["name"]) for t in texts])
    if RESIDUAL_NAME in names:
        raise UserError(f"a preset is named {RESIDUAL_NAME!r}, which clashes with the residual stem: rename it")
    return ProcessorSpec("stems", texts, tuple(names), "isolate", 1.0, **ids)


def _single_spec(presets, modes, mix, chain, model_files, ids: dict) -> ProcessorSpec:
    both = modes == ("isolate", "remove")
    if both and chain:
        raise UserError("--mode both needs one separator, not a --chain: run the chain once per mode, "
                        "e.g. --mode isolate, then --mode remove")
    if both and mix is not None:
        raise UserError("--mix does not apply to --mode both: the isolated and the removed files are fully "
                        "separated, so that together they add up to the input")
    mode = "isolate" if both else (modes[0] if modes else None)
    if chain:
        if len(presets) > 1:
            raise UserError("give at most one --preset with --chain (it fills separators that name none)")
        from fewshot_sep.plugin_host.plugin.chain_file import read_chain_document

        chain_path = Path(chain).expanduser()
        return ProcessorSpec("chain", _preset_texts(presets[:1], model_files), mode=mode, mix=mix,
                             chain=json.dumps(read_chain_document(chain_path)),
                             chain_file=str(chain_path.absolute()), **ids)
    if not presets:
        raise UserError("give a preset with --preset (builtin:NAME, a library name or a .json file)")
    if len(presets) > 1:
        raise UserError("several --preset values need --stems (one output file per preset)")
    return ProcessorSpec("single", _preset_texts(presets, model_files), mode=mode,
                         mix=1.0 if both else mix, both=both, **ids)


def output_labels(spec: ProcessorSpec, processors: Sequence[Any]) -> list[tuple[str, str]]:
    """``(preset, mode)`` of each file a task writes: the processors' outputs, then the residual."""
    if spec.kind == "stems":
        return [(n, "isolate") for n in spec.names] + [(RESIDUAL_NAME, "remove")]
    if spec.kind == "chain":
        return [(safe_file_stem(Path(spec.chain_file or "chain").stem), spec.mode or "chain")]
    name = safe_file_stem(processors[0].name)
    return [(name, "isolate"), (name, "remove")] if spec.both else [(name, processors[0].mode)]


def _file_tasks(spec: ProcessorSpec, processors: Sequence[Any], files: Sequence[Path], out: Path,
                template: str | None, *, batch: bool, to_folder: bool, fmt: str | None, bit_depth: int,
                chunk_seconds: float | None) -> list[FileTask]:
    """One FileTask per input, its outputs named by `template` (or the default names)."""
    from fewshot_sep.plugin_host.files.output_names import DEFAULT_TEMPLATES, clash_message, name_outputs
    from fewshot_sep.utils.audio import check_writable_extension

    labels = output_labels(spec, processors)
    n_outputs = len(processors)
    naming = template
    if naming is None and spec.kind == "stems":
        naming = DEFAULT_TEMPLATES["stems-batch" if batch else "stems"]
    elif naming is None and spec.both:
        if not to_folder and out.suffix.lower() in READABLE_EXTENSIONS:
            raise UserError(f"--mode both writes two files: give a folder as --output (e.g. "
                            f"{str(out.with_suffix(''))}/) or a --filename template with {{mode}}")
        naming = DEFAULT_TEMPLATES["both"]
    elif naming is None and to_folder:
        naming = DEFAULT_TEMPLATES["single"]
    elif naming is None:
        check_writable_extension(out)  # a clear error before any work
    tasks = []
    for path in files:
        if naming is None:
            paths = (_abs(out),)
        else:
            # The default stem folders were always made safe; a user's template gets the name as it is.
            track = safe_file_stem(path.stem) if template is None and spec.kind == "stems" else path.stem
            paths, _ = name_outputs(out, naming, track, output_extension(path, fmt), labels)
        check_targets(path, [Path(p) for p in paths])  # e.g. an output that is the input: refused up front
        residual = paths[n_outputs] if len(paths) > n_outputs else None
        tasks.append(FileTask(_abs(path), tuple(paths[:n_outputs]), residual=residual, bit_depth=bit_depth,
                              chunk_seconds=chunk_seconds, labels=tuple(labels)))
    clashes = _duplicates([Path(t) for task in tasks for t in task.targets])
    if clashes:
        raise UserError(clash_message(clashes[0], template))
    return tasks


def build_processors(spec: ProcessorSpec, model: Any = None) -> list[Any]:
    """The processors of `spec`, one per output (stems) or one in all.

    Args:
        spec: from :func:`plan_separation`.
        model: ModelFiles to use (None = load ``spec.model``, or the packaged model).

    Raises:
        UserError: the model here is not the one the spec was planned with.
    """
    from fewshot_sep.plugin_host.plugin.separator import FewShotSeparator
    from fewshot_sep.realtime.model_files import ModelFiles

    model = ModelFiles.load(model if model is not None else spec.model)
    if spec.model_id and model.model_id != spec.model_id:
        raise UserError(
            f"this machine's model {str(model.folder)!r} has id {model.model_id}, but the job was "
            f"planned with model {spec.model_id}: install the same fewshot-sep version on every "
            "worker, or pass --model with a folder on shared storage"
        )
    presets = [_preset(text) for text in spec.presets]
    if spec.kind == "stems":
        processors = [FewShotSeparator(p, mode="isolate", mix=1.0, model=model) for p in presets]
    elif spec.kind == "chain":
        from fewshot_sep.plugin_host.plugin.chain_file import chain_from_json

        where = str(spec.chain_file or "chain")
        processors = [chain_from_json(
            json.loads(spec.chain or "{}"), where=where, base=Path(where).parent, model=model,
            default_preset=presets[0] if presets else None, mode_override=spec.mode, mix_override=spec.mix,
        )]
    else:
        processors = [FewShotSeparator(presets[0], mode=spec.mode, mix=spec.mix, model=model)]
    for processor in processors:
        for separator in processor.separators if hasattr(processor, "separators") else [processor]:
            separator.threads = spec.threads
    return processors


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
        rate = SAMPLE_RATE  # stream_file itself reports the unreadable file
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
