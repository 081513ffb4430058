"""The one message for a layer or network the submission does not have, and the pointer later
checks of the same thing give instead of repeating it."""

from __future__ import annotations


def message(kind: str, key: str, title: str | None = None) -> str:
    """Why ``key`` (a ``"layer"`` or ``"network"``) was not found and how to map it in grader.toml."""
    if kind == "layer":
        return (f"no {title or key} layer was found in your submission (looked for the handout's "
                f"class name and common aliases, and the CS231n functions). If yours has another name, "
                f"map it in grader.toml: [layers] {key} = \"yourmodule:YourClass\"")
    return (f"no network for '{key}' was found in your submission (looked for the handout's class names and "
            f"common aliases). If yours has another name, map it in grader.toml: "
            f"[networks.{key}] symbol = \"yourmodule:YourClass\"")


def pointer(kind: str, key: str, first_check: str) -> str:
    """The short form for the checks after the first one of a missing layer or network."""
    if kind == "layer":
        return f"layer not found (see {first_check})"
    return f"no network for '{key}' was found (see {first_check})"
