"""brushwork's exceptions. The compiled module raises them too (it imports this module), so
they live apart from ``__init__``."""


class Error(Exception):
    """Every error brushwork raises. Its message is the one line the command line prints
    after ``brushwork: error:``."""


class InputError(Error, ValueError):
    """Something the caller can fix: a picture too small or unreadable, an unknown style, a
    bad style file, weights or a strength out of range, a missing file. (The command line
    exits with status 2 for these.)"""


class EngineError(Error, RuntimeError):
    """Something of the machine or the installation: ONNX Runtime or a device that cannot
    start, a failed inference, an internal error. (The command line exits with status 1 for
    these.)"""
