"""Helpers for the Dask batch tests: run on the workers of a real LocalCluster (via ``client.run``)."""

from __future__ import annotations

import json
import os
import signal


def arm_suicide_on_first_write(marker: str) -> int:
    """Make the first worker that writes audio kill its own process (SIGKILL) at that moment.

    Patches ``_Writer.write`` in this worker process: the first call on any worker
    (whoever creates `marker` first, O_EXCL) writes its pid and the names in the output
    folder into the marker (JSON) and kills itself, so its output's temp file already
    exists and is half-written. The process the nanny starts in its place is not
    patched. Returns this worker's pid.
    """
    from fewshot_sep.plugin_host.files import processing as file_processing

    original_init, original = file_processing._Writer.__init__, file_processing._Writer.write

    def init(self, tmp_path, *args, **kwargs):
        self.test_tmp_path = str(tmp_path)
        original_init(self, tmp_path, *args, **kwargs)

    def write(self, audio):
        folder = os.path.dirname(self.test_tmp_path)
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return original(self, audio)
        original(self, audio)  # some samples reach the temp file first: really mid-file
        seen = sorted(os.listdir(folder))
        os.write(fd, json.dumps({"pid": os.getpid(), "folder": seen}).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)

    file_processing._Writer.__init__ = init
    file_processing._Writer.write = write
    return os.getpid()
