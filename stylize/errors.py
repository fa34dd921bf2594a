"""The one exception type meant for users.

Anything raised as `UserError` is printed by the CLI as a single line on stderr
with exit code 2; everything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem the user can fix: bad input, missing file, unknown name."""
