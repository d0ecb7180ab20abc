"""`ambient-harness report PATH [-o markdown|html] [--output-file FILE]`: render a JSON report."""

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
    if args.output_file is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        write_atomic(Path(args.output_file), text, make_parents=False)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: cannot write {args.output_file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
