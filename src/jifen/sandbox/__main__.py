"""``python -m jifen.sandbox --port P --state DIR`` is ``jifen sandbox-provider``."""

from jifen.sandbox.cli import main

main()
