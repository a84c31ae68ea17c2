"""What local workers cannot receive is refused in one line, naming pickle's own error
(``quarch.study._parallel.check_sendable``), in this process, where mutmut sees it.

Truth: the exception ``pickle`` itself raises for the same object (its class name and
text, as the refusal quotes them).
"""

from __future__ import annotations

import pickle

import pytest

from quarch import ConfigError
from quarch.study._parallel import check_sendable


def _local_evaluator() -> object:
    class Local:  # a class inside a function: pickle cannot name it
        fingerprint = "x"

    return Local()


class _Unpicklable:
    fingerprint = "y"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("this evaluator holds an open database connection")


@pytest.mark.parametrize("make", [_local_evaluator, _Unpicklable])
@pytest.mark.parametrize("what", ["space", "evaluator"])
def test_the_refusal_quotes_pickles_own_error(make: type, what: str) -> None:
    obj = make()
    with pytest.raises(Exception) as truth:
        pickle.dumps(obj)
    with pytest.raises(ConfigError) as info:
        check_sendable(4, **{what: obj})  # type: ignore[arg-type]
    assert str(info.value) == (
        f"workers=4 sends the {what} to each worker process, and it cannot be pickled "
        f"({type(truth.value).__name__}: {truth.value}); make it picklable, or use workers=1"
    )


class _Buffered:
    """An evaluator holding an out-of-band buffer: pickle's protocol 5 takes it, the
    protocol multiprocessing's spawn sends the arguments with (4 on Python 3.11) does not."""

    fingerprint = "z"

    def __init__(self) -> None:
        self.table = pickle.PickleBuffer(b"a table of scores")


def test_what_spawn_cannot_send_is_refused_though_pickle_s_highest_protocol_takes_it() -> None:
    from multiprocessing.reduction import ForkingPickler

    obj = _Buffered()
    pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)  # protocol 5: fine
    with pytest.raises(Exception) as truth:
        ForkingPickler.dumps(obj)  # what spawn does with a Process's arguments
    with pytest.raises(ConfigError) as info:
        check_sendable(2, evaluator=obj)  # type: ignore[arg-type]
    assert str(info.value) == (
        "workers=2 sends the evaluator to each worker process, and it cannot be pickled "
        f"({type(truth.value).__name__}: {truth.value}); make it picklable, or use workers=1"
    )
