"""`python -m cli ...` runs klite (the Makefile uses it before the `klite` script is installed)."""

from cli.main import main

main()
