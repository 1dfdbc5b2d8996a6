"""The translations' one error, and the checks of request fields that raise it.

`param` is the path of the offending field in the client's request (`input[2].content[0].type`,
`messages[0].content`), so the API layer can answer in its endpoint's own error envelope."""

from __future__ import annotations

from typing import Any


class TranslationError(Exception):
    """A request that cannot be translated: always the client's to fix (a 400)."""

    def __init__(self, *, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def obj(value: object, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TranslationError(param=param, message=f"'{param}' must be an object.")
    return value


def array(value: object, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise TranslationError(param=param, message=f"'{param}' must be an array.")
    return value


def string(value: object, param: str) -> str:
    if not isinstance(value, str):
        raise TranslationError(param=param, message=f"'{param}' must be a string.")
    return value


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
    if not isinstance(value, bool):
        raise TranslationError(param=param, message=f"'{param}' must be a boolean.")
    return value


def unsupported(param: str, what: str) -> TranslationError:
    return TranslationError(param=param, message=f"{what} is not supported by this gateway.")
