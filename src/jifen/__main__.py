"""``python -m jifen`` is the ``jifen`` command."""

from jifen.cli import main

main()
