"""`ambient-harness`: lint, plan, run, demo, report, and the helpers around them.

Each subcommand imports its module lazily (start-up cost only: every import points down) so
`lint` and `plan` start fast and work without any cluster tooling. Exit codes:
harness/cli/exitcodes.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import __version__
from harness.cli.demo_options import add_demo_parser
from harness.cli.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from harness.cli.explain import add_explain_parser
from harness.cli.options import add_cluster_choice, add_cluster_options
from harness.errors import HarnessError

Handler = Callable[[argparse.Namespace], int]
SCENARIO_ARGS = "scenario names, scenario directories or scenario.yaml files, directories of them"

EPILOG = """\
examples:
  ambient-harness lint scenarios/                 validate scenarios and manifests (offline)
  ambient-harness plan scenarios/ambient-authz-l4 what a run would do (offline)
  ambient-harness run scenarios/ambient-authz-l4 --dry-run
  ambient-harness demo --interactive              the talk, live, on a kind cluster
  ambient-harness demo --replay report.json       the talk re-narrated from a recorded run
  pytest scenarios/ --cluster=kind                the same scenarios as pytest items
"""


def _lint(args: argparse.Namespace) -> int:
    from harness.judge.derived import samples_warning
    from harness.lint.command import default_jobs, run_lint

    return run_lint(
        args.paths or [Path("scenarios")],
        out=sys.stdout,
        use_schemas=args.schemas,
        probe_warning=samples_warning,
        jobs=default_jobs() if args.jobs == 0 else args.jobs,
    )


def _schemas_fetch(args: argparse.Namespace) -> int:
    from harness.host.tools import ToolUnavailable, fetch_crds

    try:
        for path in fetch_crds():
            print(path)
    except ToolUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from harness.cli.plan import plan_command

    return plan_command(args)


def _run(args: argparse.Namespace) -> int:
    from harness.cli.run import run_command

    return run_command(args)


def _demo(args: argparse.Namespace) -> int:
    if getattr(args, "replay", None) is not None:
        from harness.cli.replay import replay_command

        return replay_command(args)
    from harness.cli.demo import demo_command

    return demo_command(args)


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes (0: one per CPU)")
    return jobs


def _report_format(value: str) -> str:
    if value in ("markdown", "html"):
        return value
    # `-o report.html` meant a file before -o became the format, as in kubectl.
    hint = f"; to write a file: --output-file {value}" if "." in value or "/" in value else ""
    raise argparse.ArgumentTypeError(f"{value!r} is not a format (markdown, html){hint}")


def _report(args: argparse.Namespace) -> int:
    from harness.cli.report import report_command

    return report_command(args)


def _schema(args: argparse.Namespace) -> int:
    from harness.model.json_schema import render

    sys.stdout.write(render())
    return EXIT_OK


def _cluster(args: argparse.Namespace) -> int:
    from harness.cli.cluster import cluster_command

    return cluster_command(args)


def _doctor(args: argparse.Namespace) -> int:
    from harness.cli.doctor import doctor_command

    return doctor_command(args)


def _tools_fetch(args: argparse.Namespace) -> int:
    from harness.host.tools import ToolUnavailable, fetch_all_tools
    from harness.host.versions import UnsupportedPlatform

    try:
        for name, path in fetch_all_tools(istio_version=args.istio_version).items():
            print(f"{name}\t{path}")
    except (ToolUnavailable, UnsupportedPlatform) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ambient-harness",
        description="Declarative scenarios for Istio ambient (and sidecar) mesh behaviour: "
        "set up, apply, probe from inside the mesh, assert on what was observed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("lint", help="validate scenarios and their manifests (offline)")
    p.add_argument("paths", nargs="*", type=Path, help="scenario dirs/files (default: scenarios/)")
    p.add_argument(
        "--no-schemas",
        dest="schemas",
        action="store_false",
        help="skip validation against the pinned CRD schemas (on purpose; it is printed)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=0,
        metavar="N",
        help="processes for a large set of scenarios (default 0: one per CPU; 1: no pool). "
        "Fewer than 64 files are linted in one process; the output is the same either way",
    )
    p.set_defaults(handler=_lint)

    p = sub.add_parser("schemas", help="CRD schemas used by lint")
    ssub = p.add_subparsers(dest="action", required=True)
    f = ssub.add_parser("fetch", help="download the pinned CRDs into AMBIENT_HARNESS_CRD_DIR")
    f.set_defaults(handler=_schemas_fetch)

    p = sub.add_parser("plan", help="print what a run of scenarios would do (offline)")
    p.add_argument("scenarios", nargs="+", help=SCENARIO_ARGS)
    p.add_argument(
        "-o",
        "--output",
        "--format",  # the older spelling
        dest="output",
        choices=["text", "json", "yaml"],
        default="text",
        help="output format (default: text)",
    )
    p.set_defaults(handler=_plan)
    add_explain_parser(sub)

    p = sub.add_parser("run", help="run scenarios against a cluster (or --dry-run)")
    p.add_argument("scenarios", nargs="*", help=SCENARIO_ARGS + " (default: all)")
    p.add_argument("--dry-run", action="store_true", help="print every action, touch nothing")
    p.add_argument("--report-json", type=Path, default=None, help="write the JSON report here")
    add_cluster_options(p)
    p.set_defaults(handler=_run)

    add_demo_parser(sub, _demo)

    p = sub.add_parser("report", help="render a JSON report as markdown or HTML")
    p.add_argument("path", type=Path, help="JSON report written by --report-json")
    p.add_argument(
        "-o",
        "--output",
        "--format",  # the older spelling
        dest="format",
        type=_report_format,
        metavar="{markdown,html}",
        default="markdown",
        help="output format (default: markdown), as kubectl's -o",
    )
    p.add_argument(
        "--output-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="write to FILE (its directory must exist; default: stdout)",
    )
    p.set_defaults(handler=_report)

    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of scenario.yaml (for editors)",
        description="Print the JSON Schema of scenario.yaml, generated from the scenario model. "
        "With the YAML language server (VS Code's YAML extension) put "
        "'# yaml-language-server: $schema=PATH' on a scenario's first line.",
    )
    p.set_defaults(handler=_schema)

    # Listed for --help only: main() hands `agent ...` to harness.inpod.agent before parsing.
    sub.add_parser("agent", help="the in-pod program: `agent proxy|echo --help`")

    p = sub.add_parser("cluster", help="kind cluster: up, down, status")
    p.add_argument("action", choices=["up", "down", "status"])
    add_cluster_choice(p)
    p.add_argument(
        "--skip-doctor", action="store_true", help="`up` without the host checks (doctor)"
    )
    p.set_defaults(handler=_cluster)

    p = sub.add_parser("doctor", help="check this machine (and a --context cluster) first")
    add_cluster_choice(p)
    p.set_defaults(handler=_doctor)

    p = sub.add_parser("tools", help="pinned kind/kubectl/istioctl")
    tsub = p.add_subparsers(dest="action", required=True)
    f = tsub.add_parser("fetch", help="download and verify the pinned tools into the cache")
    f.add_argument("--istio-version", default=None, help="istioctl of this version (default: pin)")
    f.set_defaults(handler=_tools_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["agent"]:
        # The agent is its own program (stdlib only, also run as `python agent.py`): its
        # arguments, --help included, pass through untouched.
        from harness.inpod.agent import main as agent_main

        return agent_main(argv[1:], prog="ambient-harness agent")
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `ambient-harness plan ... | head` is normal use.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except HarnessError as exc:
        from harness.lint import LintFailed

        if isinstance(exc, LintFailed):  # e.g. `demo` on a scenario lint rejects: bad input
            print("\n".join(exc.problems), file=sys.stderr)
            return EXIT_USAGE
        # What a command did not handle itself: a message, not a traceback (a bug still shows
        # its traceback: it is not a HarnessError).
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
