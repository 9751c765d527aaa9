"""``python -m kiseki`` runs the CLI."""

from kiseki.cli.main import main

main()
