"""The plugin and chains: `FewShotSeparator`, `Chain` and the chain file (see fewshot_sep.plugin_host)."""
