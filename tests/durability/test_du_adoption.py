"""The manager's decision for a process whose shim died without an exit status (a table)."""

import pytest

from manager.core import adoption
from manager.core.adoption import Facts

CASES = [
    # process, exit_known, fds_stored, watched -> action, exited_at_observed
    (Facts("alive", False, True, False), adoption.ADOPT, False),
    (Facts("alive", False, False, False), adoption.ADOPT_OUTPUT_LOST, False),
    # Exited with its pipes stored: adopted, to drain them; the shim writes the exit.
    (Facts("zombie", True, True, True), adoption.ADOPT, False),
    (Facts("gone", True, True, False), adoption.ADOPT, True),
    (Facts("gone", False, True, False), adoption.ADOPT, True),  # old kernel: shim says unknown
    (Facts("zombie", True, False, False), adoption.RECORD_EXIT, True),
    (Facts("gone", True, False, True), adoption.RECORD_EXIT, False),  # the pidfd kept it
    (Facts("gone", False, False, False), adoption.UNKNOWN, False),
]


@pytest.mark.parametrize("facts, action, observed", CASES)
def test_du_decide(facts, action, observed):
    decision = adoption.decide(facts)
    assert (decision.action, decision.exited_at_observed) == (action, observed)
    assert (decision.reason is None) == (action in (adoption.ADOPT, adoption.RECORD_EXIT))


def test_du_unknown_says_why_and_invents_no_code():
    decision = adoption.decide(Facts("gone", False, False, False))
    assert "exit code not seen" in decision.reason
