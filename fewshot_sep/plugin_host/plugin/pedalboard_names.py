"""pedalboard's attribute names on our processors, and what a ``pedalboard.Pedalboard`` is told.

Code written against pedalboard reads ``plugin.reported_latency_samples``,
``plugin.is_effect`` and ``plugin.is_instrument``; :class:`PedalboardNames` gives
:class:`~fewshot_sep.plugin_host.FewShotSeparator` and
:class:`~fewshot_sep.plugin_host.Chain` the same names.

Why ``pedalboard.Pedalboard([..., FewShotSeparator(...)])`` cannot work (pedalboard
0.9): its containers take ``list[pedalboard_native.Plugin]`` and pybind11 checks the
C++ type of every item; ``pedalboard.Plugin`` has no Python trampoline (``Plugin()``
raises "abstract base class"), so a Python object can neither be nor subclass a
native plugin, and this pybind11 build has no ``_pybind11_conduit_v1_`` hook either.
pybind11 answers with "incompatible constructor arguments ... Invoked with: [reprs
of the items]"; the reprs are the one place our text reaches that message, so they
end with :data:`PEDALBOARD_HINT` (or :data:`CHAIN_HINT`), which names the fix.
"""

from __future__ import annotations

#: Ends the reprs of our processors: pybind11 prints the items' reprs when a native
#: ``Pedalboard`` (or its ``append``, ``insert``, ``Mix``, ``pedalboard.process``)
#: refuses one of them, so this is what the user reads there.
PEDALBOARD_HINT = "not a pedalboard.Plugin: use fewshot_sep.Chain([...]) in place of pedalboard.Pedalboard([...])"
#: The same for a Chain put inside a native container.
CHAIN_HINT = "not a pedalboard.Plugin: add the pedalboard plugins to this Chain (chain.append(plugin))"


class PedalboardNames:
    """Mixin: pedalboard's read-only plugin attributes, for code written against pedalboard.

    The class using it defines ``latency_samples`` (int, samples at the current rate).
    """

    latency_samples: int

    @property
    def reported_latency_samples(self) -> int:
        """pedalboard's name (``VST3Plugin.reported_latency_samples``) for :attr:`latency_samples`."""
        return int(self.latency_samples)

    @property
    def is_effect(self) -> bool:
        """True: audio in, audio out (pedalboard's ``Plugin.is_effect``)."""
        return True

    @property
    def is_instrument(self) -> bool:
        """False: not a MIDI instrument (pedalboard's ``Plugin.is_instrument``)."""
        return False
