"""What the standalone (PyInstaller) app leaves out, shared by `build.spec` and the app's entry point.

The frozen app carries the run-time path only (numpy + onnxruntime engine,
presets, plugin host, producer commands). Training, data rendering, evaluation
and export need torch and friends; their command modules are still in the app
(so `--help` lists them), but running them stops with
:func:`unavailable_message` instead of a traceback.
"""

from __future__ import annotations

# Project packages that need torch / FluidSynth / music21 and are not in the app.
TRAINING_ONLY_PACKAGES: tuple[str, ...] = (
    "fewshot_sep.data",
    "fewshot_sep.model",
    "fewshot_sep.train",
    "fewshot_sep.runs",
    "fewshot_sep.eval",
    "fewshot_sep.export",
)

# Third-party packages of the `train` extra (and their heavy dependencies).
TRAINING_ONLY_THIRD_PARTY: tuple[str, ...] = (
    "torch",
    "torchvision",
    "torchaudio",
    "functorch",
    "triton",
    "onnx",
    "onnxscript",
    "music21",
    "pretty_midi",
    "fluidsynth",
    "matplotlib",
    "fast_bss_eval",
    "mido",
    "sympy",
    "networkx",
)

# Not needed at run time and large: onnxruntime's Python tools import onnx/torch;
# GUI and notebook stacks that optional imports might drag in.
NOT_NEEDED: tuple[str, ...] = (
    "onnxruntime.transformers",
    "onnxruntime.quantization",
    "onnxruntime.tools",
    "onnxruntime.training",
    "scipy",
    "pandas",
    "PIL",
    "IPython",
    "jupyter_client",
    "tkinter",
    "_tkinter",
    "pytest",
    "setuptools",
    "pkg_resources",
    # The `distributed` extra: `separate --workers/--scheduler` (Dask) is for the Python
    # package; in the app those options stop with a UserError naming the extra.
    "dask",
    "distributed",
    "bokeh",
)

EXCLUDES: tuple[str, ...] = TRAINING_ONLY_PACKAGES + TRAINING_ONLY_THIRD_PARTY + NOT_NEEDED


def training_only_package(module_name: str | None) -> str | None:
    """The left-out package that `module_name` (e.g. ``"torch.nn"``) belongs to, else None."""
    if not module_name:
        return None
    for package in TRAINING_ONLY_PACKAGES + TRAINING_ONLY_THIRD_PARTY:
        if module_name == package or module_name.startswith(package + "."):
            return package
    return None


def is_training_only(module_name: str | None) -> bool:
    """True if `module_name` belongs to a package the app leaves out on purpose."""
    return training_only_package(module_name) is not None


def unavailable_message(command: str | None, module_name: str) -> str:
    """The one-line error the frozen app prints when a command needs a left-out package."""
    what = f"`fewshot-sep {command}`" if command else "this command"
    package = training_only_package(module_name) or module_name
    return (
        f"{what} is not available in the standalone app: it needs {package}, which the app "
        "leaves out (no torch, no training code); install the Python package with the training "
        "extra instead: pip install 'fewshot-sep[train]'"
    )
