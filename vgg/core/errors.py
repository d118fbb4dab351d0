"""The one base class of every error whose message is meant for a user, not a traceback."""


class UserError(Exception):
    """Bad input or a missing resource, said in one sentence that tells the user what to do."""
