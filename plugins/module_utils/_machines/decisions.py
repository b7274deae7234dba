# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""What one step concludes for one machine: the four operations and the ``Decision`` that carries one.

The state model (``states.plan``) and every ``ActionSpec`` (``desired_state``, ``one_shot``, ``tags``) decide in
these terms; the orchestrator acts on them. Nothing here reads or sends anything.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# What a machine needs, decided from its history (or, for tags, from the machine itself).
NOOP = 'none'
SEND = 'send'
CONFLICT = 'conflict'
ERROR = 'error'

_UNSET = object()


class Decision(object):
    """What one step concluded for one machine.

    ``op`` (NOOP, SEND, CONFLICT, ERROR) matters for the first decision only. Every other field left
    unset keeps the result's current value: ``state``, ``action`` (the machine action the result
    rests on), ``track`` (the id of an action to wait for), ``error``, ``changed``; ``warnings`` are
    added; ``fields`` are extra result keys (``isolation_type``, ``state_source``...).
    """

    def __init__(self, op=NOOP, state=_UNSET, action=_UNSET, track=_UNSET, error=_UNSET, changed=_UNSET,
                 warnings=(), fields=None, reason=None):
        self.op = op
        self.reason = reason
        self.updates = dict((name, value) for name, value in (
            ('state', state), ('action', action), ('track', track), ('error', error), ('changed', changed))
            if value is not _UNSET)
        self.warnings = list(warnings)
        self.fields = dict(fields or {})

    def __repr__(self):
        return 'Decision(%r, %r)' % (self.op, self.updates)
