"""The command line: ``jasper-tc <verb>``, one module per part of the life cycle.

``studies`` (quickstart, reproduce), ``adapt``, ``data`` (encode, teach, mine-negatives, train), ``evaluate``
(eval, eval-compare, mteb) and ``serve``. Each verb imports what it needs when it runs, so that
``jasper-tc --help`` stays quick and a missing extra only fails the verb that needs it.
"""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Token-compressed text embedding.")

# The modules add their verbs to ``app``, in the order the data flows (and ``--help`` lists them).
from . import adapt, data, evaluate, serve, studies  # noqa: E402, F401

__all__ = ["app", "main"]


@app.command(rich_help_panel="Other")
def version() -> None:
    """Print the package version."""
    from .. import __version__

    typer.echo(__version__)


def main() -> None:
    app()
