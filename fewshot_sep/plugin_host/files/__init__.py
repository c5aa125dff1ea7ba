"""File processing: `stream_file`, batches (`batch.separate_files`), the demo's example (see fewshot_sep.plugin_host)."""
