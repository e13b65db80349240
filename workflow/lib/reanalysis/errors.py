"""The one exception type for bad user input (config or data): its message is the whole diagnosis."""


class InputError(ValueError):
    """Bad config or data; the message names the file, row, column and what was expected."""
