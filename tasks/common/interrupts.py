"""A Ctrl-C that lands in a finaliser is not lost.

Python's SIGINT handler raises ``KeyboardInterrupt`` at the main thread's next bytecode.
When that bytecode belongs to a weakref callback or a ``__del__`` that the garbage
collector runs, the exception cannot propagate: Python prints "Exception ignored in ..."
and carries on. Measured on 2026-12-07: a pipeline's ``train_ner``, Ctrl-C'd while
TensorFlow's objects were being collected, printed that, trained on to its last epoch and
was committed by DVC, while the flow waited for it. :func:`keep_interrupts` catches that
report and sends the process SIGINT again a moment later, from a thread: sent from the
hook itself, the signal's handler would run inside the hook, and be reported again.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

RESEND_AFTER_S = 0.01  # the finaliser has long returned by then


def keep_interrupts() -> None:
    """Re-deliver any ``KeyboardInterrupt`` that Python would report as unraisable.
    Installed once per process; other unraisable exceptions reach the previous hook."""
    previous = sys.unraisablehook
    if getattr(previous, "keeps_interrupts", False):
        return

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            resend = threading.Timer(RESEND_AFTER_S, os.kill, (os.getpid(), signal.SIGINT))
            resend.daemon = True
            resend.start()
        else:
            previous(unraisable)

    hook.keeps_interrupts = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook
