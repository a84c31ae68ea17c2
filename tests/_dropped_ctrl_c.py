"""A Ctrl-C that Python has to drop, shared by the tests of its redelivery."""

from __future__ import annotations

import weakref


def ctrl_c_inside_a_weakref_callback() -> None:
    """What a terminal's Ctrl-C does when it lands while a weakref callback runs (an
    import's module lock, a WeakKeyDictionary tidying up): Python cannot raise it there,
    reports it to ``sys.unraisablehook`` as unraisable, and the code goes on."""

    class Obj:
        pass

    def callback(_: object) -> None:
        raise KeyboardInterrupt

    obj = Obj()
    ref = weakref.ref(obj, callback)
    del obj
    assert ref() is None
