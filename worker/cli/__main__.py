"""``python -m worker.cli``: the same as the ``storyline`` command."""

from worker.cli import main

main()
