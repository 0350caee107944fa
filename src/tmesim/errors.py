"""The error type every floor of tmesim raises for bad user input (ground floor: imports nothing of tmesim).

One message naming the field and what is allowed; the CLI prints it as ``error: <field>: <message>``.
"""

from __future__ import annotations


class ModelError(ValueError):
    """A model, rules file or run setting is invalid.

    ``field`` is the dotted path of the offending entry (``substrates[2].diffusion``);
    the message says what was found and what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class ModelErrors(ModelError):
    """Several problems found at once (every schema error of a model file): ``errors`` holds
    one :class:`ModelError` each; the message lists them one per line."""

    def __init__(self, errors: list[ModelError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.field, first.message)
        self.args = ("\n".join(str(e) for e in self.errors),)

    def __str__(self) -> str:
        return self.args[0]


class NonFiniteError(ModelError):
    """A simulation produced inf or NaN; ``field`` names the step, the message the substrate or
    state variable and the cell type where it appeared."""
