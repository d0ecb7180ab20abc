"""`ambient-harness report PATH [--format markdown|html] [-o FILE]`: render a JSON report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE
from harness.report.document import ReportError, load_json_report, write_atomic
from harness.report.html import render_html
from harness.report.markdown import render_markdown


def report_command(args: argparse.Namespace) -> int:
    try:
        run = load_json_report(Path(args.path))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = render_html(run) if args.format == "html" else render_markdown(run)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        write_atomic(Path(args.output), text, make_parents=False)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
