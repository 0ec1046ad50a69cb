"""The errors a run can end in, each one line naming the fix: defined once, apart from
the stages that raise them, so that every stage and the front end can name them."""


class UsageError(ValueError):
    """A target named in a way the suite cannot use; the message says how to name it."""


class TargetError(Exception):
    """A target that cannot be reached or observed; the message names the fix."""


class SetupError(TargetError):
    """The run as a whole cannot go on (engine down, image missing): one line for all."""


class WaiverError(ValueError):
    """A waiver file the suite cannot use; the message names the file and the line."""
