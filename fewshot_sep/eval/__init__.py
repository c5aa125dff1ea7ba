"""Evaluation: episodes x systems x conditions -> metrics, tables, plots, listening page.

- :mod:`~fewshot_sep.eval.metrics`: BSS-eval SDR (fast_bss_eval), and the shared metrics of
  :mod:`fewshot_sep.utils.metrics` (the SI-SDR convention, bootstrap CIs; the demo uses them too);
- :mod:`~fewshot_sep.eval.oracle`: ideal-ratio-mask reference;
- :mod:`~fewshot_sep.eval.onehot_rule`: which class the one-hot baseline gets;
- :mod:`~fewshot_sep.eval.systems`: the compared systems (ONNX via ``fewshot_sep.realtime``, torch);
- :mod:`~fewshot_sep.eval.harness`: parallel, resumable runs;
- :mod:`~fewshot_sep.eval.report`, :mod:`~fewshot_sep.eval.listening`,
  :mod:`~fewshot_sep.eval.outputs`: CSV, Markdown, PNG plots, HTML page, results.md.

The ONNX systems use the run-time layer (``fewshot_sep.realtime``) on purpose:
the numbers are those of the code path users run. Nothing here is imported by
the run-time layers. User docs: docs/evaluation.md.
"""
