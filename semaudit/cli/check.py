"""``semaudit check``: the CI gate (exit 0 pass, 1 a rule failed, 2 usage, 3 input or config).

Its signature is generated: the fixed options from ``CHECK_PARAMETERS`` and one option per rule
(``--max-scale-ratio X`` …) from the rule registry (:mod:`semaudit.gate.rules`); ``check``
takes them all as ``**options`` and carries the signature that tells Typer about each.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from semaudit.cli._app import app, err, examples, out, plain, print_json
from semaudit.errors import EXIT_GATE_FAILED, ConfigError, InputError, UsageError
from semaudit.gate.rules import Rule, list_rules
from semaudit.values import plural

if TYPE_CHECKING:
    from semaudit.gate import GateResult, Outcome
    from semaudit.gate.thresholds import Thresholds

RULES_PANEL = "Rules (fail levels; warn levels and per-class limits go in the config file)"
NOT_AVAILABLE = "n/a"

EPILOG = (
    examples(
        "semaudit check audit --max-scale-ratio 3 --min-images-per-class 20",
        "semaudit check audit --baseline audit-v1 --max-scale-drop 0.1 --junit gate.xml",
        "semaudit check audit --suggest > semaudit.toml",
        "semaudit check --list-rules",
    )
    + "\n\nExit codes: 0 pass, 1 a rule failed, 2 usage error, 3 input or config error (also "
    "when every configured rule was skipped, unless --allow-skipped). Guide: docs/ci.md."
)


def _rule_parameter(rule: Rule) -> inspect.Parameter:
    """The option of one rule: ``--max-scale-ratio X`` sets its fail level."""
    metavar = "N" if rule.integer else "X"
    option = typer.Option(
        None,
        rule.flag,
        metavar=metavar,
        help=f"{rule.description} Fails unless value {rule.comparator} {metavar} ({rule.unit}).",
        rich_help_panel=RULES_PANEL,
        show_default=False,
    )
    annotation = int | None if rule.integer else float | None
    return inspect.Parameter(
        rule.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
    )


def _with_rule_options(func: Any) -> Any:
    """Give ``func`` (which takes every option as ``**options``) its signature: the fixed
    options of ``CHECK_PARAMETERS`` with one option per rule after ``--json``, in registry
    order, so that adding a rule to the registry adds its flag here, in ``--help`` and in
    docs/cli.md.
    """
    vars(func).pop("__signature__", None)  # rebuilt from the tables (tests add rules)
    fixed = list(CHECK_PARAMETERS)
    at = [p.name for p in fixed].index("json_output") + 1
    rules = [_rule_parameter(rule) for rule in list_rules()]
    func.__signature__ = inspect.Signature([*fixed[:at], *rules, *fixed[at:]])
    return func


def _list_rules(value: bool) -> None:
    if not value:
        return
    lines = ["check rules: config key (flag --key-with-dashes, env SEMAUDIT_CHECK_KEY)", ""]
    for rule in list_rules():
        scope = f"{rule.level}, baseline" if rule.baseline else rule.level
        lines.append(f"{rule.name}  [{scope}; passes when value {rule.comparator} limit; "
                     f"{rule.unit}]")  # fmt: skip
        lines.append(f"    {rule.description}")
    out.print("\n".join(lines), markup=False, highlight=False)
    raise typer.Exit(0)


def load_thresholds(
    config: Path | None, flags: dict[str, float | None], *, start: Path | None = None
) -> tuple[Thresholds, Path | None]:
    """Thresholds from the config file < ``SEMAUDIT_CHECK_*`` < flags, and the file used."""
    from semaudit.config import env_overrides, load_section
    from semaudit.gate.rules import ENV_PREFIX
    from semaudit.gate.thresholds import SWITCHES, resolve_thresholds

    table, source = load_section("check", config, start=start)
    known = [rule.name for rule in list_rules()] + list(SWITCHES)
    env = env_overrides(ENV_PREFIX, known, strict=True)
    thresholds = resolve_thresholds(
        table, source=source, env=env, flags=flags, flag_label=lambda rule: rule.flag
    )
    return thresholds, source


def _escape(text: str, *, prop: bool = False) -> str:
    """GitHub workflow-command escaping (properties also escape ``:`` and ``,``)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(result: GateResult) -> list[str]:
    """``::error``/``::warning``/``::notice`` lines for FAIL, WARN and SKIP outcomes."""
    kinds = {"FAIL": "error", "WARN": "warning", "SKIP": "notice"}
    lines = []
    for o in result.outcomes:
        if o.status not in kinds:
            continue
        title = f"semaudit check {o.status}: {o.rule}" + (
            f" [{o.class_name}]" if o.class_name is not None else ""
        )
        lines.append(
            f"::{kinds[o.status]} title={_escape(title, prop=True)}::{_escape(_note(o, result))}"
        )
    return lines


_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "cyan"}


def _note(o: Outcome, result: GateResult) -> str:
    """An outcome's message, with the flag that fixes a missing baseline."""
    from semaudit.gate.evaluate import NO_BASELINE

    if o.status == "SKIP" and o.message == NO_BASELINE and result.baseline is None:
        return f"{NO_BASELINE} (--baseline OLD_AUDIT)"
    return o.message


def _rows(result: GateResult, verbose: bool) -> list[tuple[str, ...]]:
    """Table rows; unless ``verbose``, the passing classes of a rule collapse into one row."""
    from semaudit.gate import format_number
    from semaudit.gate.rules import get_rule

    rows: list[tuple[str, ...]] = []
    by_rule: dict[str, list[Outcome]] = {}
    for o in result.outcomes:
        by_rule.setdefault(o.rule, []).append(o)
    for name, outcomes in by_rule.items():
        rule = get_rule(name)
        passing = [o for o in outcomes if o.status == "PASS" and o.class_name is not None]
        collapse = not verbose and len(passing) > 1
        for o in outcomes:
            if collapse and o in passing:
                continue
            value = format_number(o.value) if o.value is not None else NOT_AVAILABLE
            limit = f"{rule.comparator} {format_number(o.limit)}" if o.limit is not None else ""
            note = _note(o, result) if o.status == "SKIP" else o.detail
            if o.status == "SKIP":
                value, limit = NOT_AVAILABLE, NOT_AVAILABLE
            if o.demoted:
                note = "; ".join(filter(None, [note, "was FAIL (warn-only)"]))
            who = o.class_name if o.class_name is not None else "(dataset)"
            rows.append((name, who, value, limit, o.status, note))
        if collapse:
            pick = max if rule.direction == "max" else min
            worst = pick(passing, key=lambda o: o.value if o.value is not None else 0.0)
            limits = {o.limit for o in passing}
            limit = f"{rule.comparator} {format_number(worst.limit)}"
            everyone = len(passing) == len(outcomes)
            rows.append(
                (
                    name,
                    f"all {plural(len(passing), 'class')}"
                    if everyone
                    else plural(len(passing), "other class", "other classes"),
                    format_number(worst.value),
                    limit if len(limits) == 1 else "per class",
                    "PASS",
                    f"lowest: {worst.class_name}"
                    if pick is min
                    else f"highest: {worst.class_name}",
                )
            )
    return rows


def _print_table(result: GateResult, verbose: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=plain(f"semaudit check {result.audit}"), title_justify="left")
    for column in ("rule", "class", "value", "limit", "status"):
        table.add_column(column, no_wrap=column != "class")
    table.add_column("note", overflow="fold", ratio=1)
    for rule, who, value, limit, status, note in _rows(result, verbose):
        table.add_row(
            rule, plain(who), value, limit, Text(status, style=_STYLE[status]), plain(note)
        )
    out.print(table)


def _verdict(result: GateResult) -> str:
    counts = result.counts()
    parts = [
        f"{counts['FAIL']} failed",
        f"{counts['WARN']} warned",
        f"{counts['PASS']} passed",
        f"{counts['SKIP']} skipped",
    ]
    line = f"{result.status}: " + ", ".join(parts)
    if result.status == "SKIP":
        line += (
            " (every result skipped: nothing was checked; allowed by --allow-skipped)"
            if result.allow_skipped
            else " (every result skipped: nothing was checked)"
        )
    if result.warn_only:
        line += " (warn-only: failures reported as warnings)"
    if result.not_configured:
        line += f"; {len(result.not_configured)} rules not configured (--list-rules)"
    return line


def _nothing_checked(result: GateResult) -> InputError:
    """The error of a gate whose every result was skipped (and that did not allow it)."""
    reasons = list(dict.fromkeys(f"{o.rule}: {_note(o, result)}" for o in result.outcomes))
    shown = "; ".join(reasons[:2]) + ("; …" if len(reasons) > 2 else "")
    return InputError(
        f"every configured rule was skipped on {result.audit}: nothing was checked ({shown}); "
        "fix the cause, or pass --allow-skipped to accept it."
    )


def _write_junit(path: Path, text: str) -> None:
    from semaudit.store import atomic_write_bytes

    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise InputError(
            f"cannot write the JUnit report to {path} ({exc.strerror or exc}); "
            "pick a writable --junit path."
        ) from None


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _flag(name: str, flags: tuple[str, ...], text: str, **extra: Any) -> inspect.Parameter:
    return _param(name, bool, typer.Option(False, *flags, help=text, **extra))


CHECK_PARAMETERS: tuple[inspect.Parameter, ...] = (
    _param("audit", Path, typer.Argument(
        ..., metavar="AUDIT", help="Audit directory written by semaudit scan.", show_default=False
    )),
    _param("config", Path | None, typer.Option(
        None, "--config", "-c", metavar="FILE",
        help="TOML file with a \\[check] table \\[default: semaudit.toml, or pyproject.toml "
        "with \\[tool.semaudit.check], found from the working directory up].",
        show_default=False,
    )),
    _param("baseline", Path | None, typer.Option(
        None, "--baseline", "-b", metavar="OLD_AUDIT",
        help="Older audit of the same dataset, for the baseline rules.", show_default=False,
    )),
    _param("junit", Path | None, typer.Option(
        None, "--junit", metavar="FILE",
        help="Write a JUnit XML report (one test case per rule × class).", show_default=False,
    )),
    _flag("json_output", ("--json",), "Machine-readable result on stdout."),
    _flag("warn_only", ("--warn-only",),
          "Report failures as warnings and exit 0 (adoption periods)."),
    _flag("allow_skipped", ("--allow-skipped",),
          "Pass when every result is a SKIP (nothing could be checked); without it, such "
          "a gate exits 3."),
    _flag("quiet", ("--quiet", "-q"), "Only the verdict line (and errors); no table."),
    _flag("verbose", ("--verbose", "-v"), "One table row per passing class, not one per rule."),
    _flag("suggest", ("--suggest",),
          "Print a \\[check] table that AUDIT passes with headroom, then exit."),
    _flag("list_rules", ("--list-rules",), "List the rules and exit.", is_eager=True,
          callback=_list_rules),
)  # fmt: skip
"""The fixed options of ``check``, in ``--help`` order; the rule options go after ``--json``."""


@dataclass(frozen=True)
class _CheckArgs:
    audit: Path
    config: Path | None
    baseline: Path | None
    junit: Path | None
    json_output: bool
    warn_only: bool
    allow_skipped: bool
    quiet: bool
    verbose: bool
    suggest: bool
    list_rules: bool


def check(**options: Any) -> None:
    """Gate CI on an audit: exit 1 when a rule fails, 0 when all pass (warnings allowed)."""
    levels = {rule.name: options.pop(rule.name, None) for rule in list_rules()}
    args = _CheckArgs(**options)
    if args.quiet and args.verbose:
        raise UsageError("--quiet and --verbose contradict each other; give one of them.")
    if args.suggest:
        _suggest(args)
        return
    _gate(args, levels)


def _suggest(args: _CheckArgs) -> None:
    from semaudit import gate
    from semaudit.store import load_audit

    loaded = load_audit(args.audit)
    if args.json_output:
        table, left_out = gate.suggest_thresholds(loaded)
        print_json({"check": table, "left_out": left_out})
    else:
        sys.stdout.write(gate.suggest_config(loaded))


def _gate(args: _CheckArgs, levels: dict[str, float | None]) -> None:
    from semaudit import gate
    from semaudit.store import load_audit

    thresholds, source = load_thresholds(args.config, levels)
    if not thresholds.configured():
        where = f"{source} has no [check] rules" if source else "no config file was found"
        raise ConfigError(
            f"no check rules configured ({where}); pass thresholds as flags "
            f"(semaudit check {args.audit} --max-scale-ratio 2), add a [check] table to "
            f"semaudit.toml, or print one with semaudit check {args.audit} --suggest."
        )
    if source is not None and not args.quiet:
        err.print(f"thresholds: {source}", markup=False, highlight=False)
    loaded = load_audit(args.audit)
    old = load_audit(args.baseline) if args.baseline is not None else None
    result = gate.evaluate(
        loaded, thresholds, baseline=old, warn_only=args.warn_only,
        allow_skipped=args.allow_skipped,
    )  # fmt: skip
    _report(args, result, source)
    if result.status == "SKIP" and not result.passed:
        raise _nothing_checked(result)
    if not result.passed:
        raise typer.Exit(EXIT_GATE_FAILED)


def _report(args: _CheckArgs, result: GateResult, source: Path | None) -> None:
    """The result on stdout (table and verdict, or JSON), GitHub annotations, JUnit file."""
    from semaudit import gate

    if args.json_output:
        print_json(gate.result_to_dict(result, config=str(source) if source else None))
    else:
        if not args.quiet:
            _print_table(result, args.verbose)
        out.print(_verdict(result), style=_STYLE[result.status], markup=False)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        stream = sys.stderr if args.json_output else sys.stdout
        for line in github_annotations(result):
            stream.write(line + "\n")
        stream.flush()
    if args.junit is not None:
        _write_junit(args.junit, gate.to_junit(result))


app.command(epilog=EPILOG)(_with_rule_options(check))
