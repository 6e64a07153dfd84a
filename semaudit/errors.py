"""Error types. Library code raises these; only the CLI turns them into messages and exit codes.

Every message follows one grammar: what went wrong, where, what was received, what to do.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class SemauditError(Exception):
    """Base class of every error a user can act on. ``exit_code`` is what the CLI returns."""

    exit_code = EXIT_INPUT


class UsageError(SemauditError):
    """A command line or API call that cannot mean anything (bad option value, wrong type)."""

    exit_code = EXIT_USAGE


class InputError(SemauditError):
    """Data the user pointed at is missing, empty or malformed."""


class ConfigError(SemauditError):
    """A configuration file or variable is malformed or has an unknown key."""


class BackboneError(SemauditError):
    """A backbone is unknown, or its weights cannot be found or loaded."""


class AuditError(SemauditError):
    """An audit directory is missing, corrupt, of another schema, or incompatible with another."""


class LockedError(SemauditError):
    """Another live process holds the audit directory's lock."""
