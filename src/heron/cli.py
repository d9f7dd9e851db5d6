"""The `heron` command line.

Subsystems are imported inside the command that needs them, never at module level: `heron
--help` and `heron version` must answer instantly and keep working even if a subsystem is
broken, and a role should not load code it does not run.

Exit codes: 0 success, 1 runtime failure (storage cannot open or close), 2 usage or
configuration error (argparse's own convention, kept for ours so scripts and Kubernetes
operators can tell "fix your config" from "something broke").
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from heron import __version__
from heron.config import SETTINGS, ConfigError, Settings, load_settings
from heron.logsetup import log_fields, setup_logging

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

log = logging.getLogger("heron.server")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; `server` gets one flag per row of `config.SETTINGS`."""
    parser = argparse.ArgumentParser(
        prog="heron",
        description="Heron: Kubernetes logs and metrics in one small program.",
    )
    parser.add_argument("--version", action="version", version=f"heron {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("version", help="print the version and exit", description="Print the version.")

    server = commands.add_parser(
        "server",
        help="run the server: open storage in the data dir and run until SIGTERM/SIGINT",
        description=(
            "Run the heron server. Settings come from defaults, then --config FILE, then HERON_* "
            "environment variables, then these flags (later wins)."
        ),
    )
    agent = commands.add_parser(
        "agent",
        help="run the node agent: tail container logs under --pods-dir and push them to --server",
        description=(
            "Run the heron node agent. It reads the same settings as the server (defaults, "
            "--config FILE, HERON_* variables, flags); the agent: settings apply to it."
        ),
    )
    all_ = commands.add_parser(
        "all",
        help="run the server and the node agent in one process (single-node clusters, laptops)",
        description="Run heron server and heron agent in one process; the agent ships by a function call.",
    )
    demo = commands.add_parser(
        "demo",
        help="run heron all on a simulated node (pods writing logs, a fake Kubernetes API)",
        description="Heron on a simulated node in a temporary directory, for a first look.",
    )
    demo.add_argument(
        "--open", action="store_true", help="open the web UI in a browser once the server is ready ($BROWSER)"
    )
    for sub in (server, agent, all_, demo):
        sub.add_argument("--config", metavar="FILE", default=None, help="YAML file of settings")
        for setting in SETTINGS:
            help_text = f"{setting.help} (default: {setting.default}; env {setting.env})"
            # Values stay text here and are parsed by config.load_settings, so a bad flag gets
            # the same one-line "config error" as a bad YAML key or env var.
            sub.add_argument(
                setting.flag,
                dest=setting.name,
                metavar=setting.metavar,
                default=None,
                help=help_text.replace("%", "%%"),
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code (also for --help and usage errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, and argparse's usage errors (code 2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "version":
        print(f"heron {__version__}")
        return EXIT_OK
    if args.command in ("server", "agent", "all", "demo"):
        return _server(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
    return EXIT_USAGE  # pragma: no cover


def _error(message: str) -> None:
    """One line on stderr: what an operator sees in `kubectl logs` of a crash-looping pod."""
    print("heron: " + " ".join(message.split()), file=sys.stderr)


def _server(args: argparse.Namespace) -> int:
    flags = {s.name: getattr(args, s.name) for s in SETTINGS}
    try:
        settings = load_settings(args.config, os.environ, flags)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    from heron.config import load_prom_config

    try:
        # The Prometheus-shaped sections; a file Prometheus would refuse starts nothing.
        prom_config = load_prom_config(args.config)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    setup_logging(settings.log_level, settings.log_format)
    started = log_fields(version=__version__)
    if args.config is not None:
        started["fields"]["config"] = args.config
    log.info(f"starting heron {args.command}", extra=started)
    log.debug("effective settings", extra=log_fields(**_settings_fields(settings)))

    # Imported here, not at the top: `heron --help` must not pay for the server's imports.
    if args.command == "agent":
        from heron.agent import AgentConfigError, run_agent

        try:
            return run_agent(
                settings,
                prom_config,
                os.path.dirname(os.path.abspath(args.config)) if args.config else ".",
            )
        except AgentConfigError as exc:
            _error(str(exc))
            return EXIT_USAGE
        except OSError as exc:  # e.g. an unreadable token file or state dir
            _error(f"agent cannot start: {exc}")
            return EXIT_FAILURE
    if args.command == "demo":
        from heron.demo.run import run_demo

        return run_demo(settings, open_browser=args.open)
    from heron.server import run_server

    try:
        return run_server(
            settings,
            with_agent=args.command == "all",
            prom_config=prom_config,
            config_dir=os.path.dirname(os.path.abspath(args.config)) if args.config else ".",
            config_file=args.config,
        )
    except OSError as exc:  # e.g. the listen address is taken
        _error(f"cannot serve on {settings.listen}: {exc}")
        return EXIT_FAILURE


def _settings_fields(settings: Settings) -> dict[str, object]:
    return {s.name: _display(getattr(settings, s.name)) for s in SETTINGS}


def _display(value: object) -> object:
    return str(value) if isinstance(value, os.PathLike) else value
