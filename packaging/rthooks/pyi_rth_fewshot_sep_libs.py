"""PyInstaller runtime hook: make ctypes.util.find_library see the libraries inside the bundle.

sounddevice finds PortAudio with ``ctypes.util.find_library("portaudio")`` and
then opens the returned name with cffi (soundfile does the same for
``"sndfile"`` when its own ``_soundfile_data`` copy is absent). On Linux
find_library asks ldconfig / gcc / ld, which know nothing of the app folder, so
on a machine without those system packages it returns None and the import
fails. The spec bundles ``libportaudio.so.2`` (and libsndfile when needed) next
to the other libraries in ``sys._MEIPASS``; this hook, which runs before any
application import, answers find_library with those bundled files first.
"""

import ctypes.util
import glob
import os
import sys


def _install() -> None:
    if not sys.platform.startswith("linux"):
        return
    bundle_dir = getattr(sys, "_MEIPASS", None)
    if not bundle_dir:
        return
    system_find_library = ctypes.util.find_library

    def find_library(name: str):
        # e.g. "portaudio" -> <bundle>/libportaudio.so.2 (shortest name first: libfoo.so.2 before libfoo.so.2.0.0)
        matches = sorted(glob.glob(os.path.join(bundle_dir, f"lib{glob.escape(name)}.so*")), key=len)
        if matches:
            return matches[0]
        return system_find_library(name)

    ctypes.util.find_library = find_library


_install()
