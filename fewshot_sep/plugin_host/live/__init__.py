"""The live host: `host.LiveHost`, its audio callback, streams and console (see fewshot_sep.plugin_host)."""
