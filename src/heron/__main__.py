"""`python -m heron` runs the same command line as the `heron` console script."""

from heron.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
