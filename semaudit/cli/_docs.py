"""The option tables of ``docs/cli.md``, generated from the Typer app (a test keeps them current).

python -m semaudit.cli._docs > /tmp/ref.md   # paste between the markers of docs/cli.md
"""

from __future__ import annotations

from typing import Any


def _rows(command: Any) -> list[str]:
    rows = []
    for param in command.params:
        if param.name == "help":
            continue
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        if param.param_type_name == "argument":
            names = f"`{param.name.upper()}`"
        text = (getattr(param, "help", None) or "").replace("\\[", "[")
        default = getattr(param, "default", None)
        shown = (
            param.param_type_name == "option" and getattr(param, "show_default", None) is not False
        )
        if shown and default not in (None, False) and "[default:" not in text:
            value = default.value if hasattr(default, "value") else default
            text = f"{text} [default: {value}]"
        text = text.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {names} | {text} |")
    return rows


def cli_reference_markdown() -> str:
    """Global options, then one section per command (workflow order): summary and options."""
    import typer

    from semaudit.cli import commands  # noqa: F401
    from semaudit.cli._app import app

    group = typer.main.get_command(app)
    lines = ["### `semaudit`", "", "Global options (before the command).", ""]
    lines += ["| option | meaning |", "|---|---|", *_rows(group), ""]
    names = group.list_commands(typer.Context(group))  # type: ignore[attr-defined]
    for name in names:
        command = group.commands[name]  # type: ignore[attr-defined]
        summary = (command.help or "").strip().splitlines()[0]
        lines += [f"### `semaudit {name}`", "", summary, "", "| option | meaning |", "|---|---|"]
        lines += [*_rows(command), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(cli_reference_markdown(), end="")
