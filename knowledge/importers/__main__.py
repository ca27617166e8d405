"""``python -m knowledge.importers KIND PATH [-v]``: import a local catalog, print the report."""

from __future__ import annotations

import argparse
import sys

from knowledge.importers import IMPORTERS, import_catalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.importers", description=__doc__)
    parser.add_argument("kind", choices=sorted(IMPORTERS), help="catalog format")
    parser.add_argument("path", help="local checkout of the catalog (or its templates folder)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every failure")
    args = parser.parse_args(argv)
    report = import_catalog(args.kind, args.path)
    print(report.summary())
    if args.verbose:
        for outcome in report.outcomes:
            if not outcome.renders:
                print(f"  {outcome.upstream}: {outcome.error or outcome.render_error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
