"""The translations' one error, and the checks of request fields that raise it.

`param` is the path of the offending field in the client's request (`input[2].content[0].type`,
`messages[0].content`), so the API layer can answer in its endpoint's own error envelope."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class TranslationError(Exception):
    """A request that cannot be translated: always the client's to fix (a 400)."""

    def __init__(self, *, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def _typed(value: object, kind: type[T], param: str, what: str) -> T:
    if not isinstance(value, kind):
        raise TranslationError(param=param, message=f"'{param}' must be {what}.")
    return value


def obj(value: object, param: str) -> dict[str, Any]:
    return _typed(value, dict, param, "an object")


def array(value: object, param: str) -> list[Any]:
    return _typed(value, list, param, "an array")


def string(value: object, param: str) -> str:
    return _typed(value, str, param, "a string")


def name(value: object, param: str) -> str:
    """A non-empty string: a model, a function, a call id."""
    if not isinstance(value, str) or not value:
        raise TranslationError(param=param, message=f"'{param}' must be a non-empty string.")
    return value


def number(value: object, param: str) -> float | int:
    # bool is an int to Python but not a number to JSON Schema
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranslationError(param=param, message=f"'{param}' must be a number.")
    return value


def positive_int(value: object, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TranslationError(param=param, message=f"'{param}' must be a positive integer.")
    return value


def boolean(value: object, param: str) -> bool:
    return _typed(value, bool, param, "a boolean")


def unsupported(param: str, what: str) -> TranslationError:
    return TranslationError(param=param, message=f"{what} is not supported by this gateway.")
