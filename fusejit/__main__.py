"""``python -m fusejit``: the ``fusejit`` command, for environments whose scripts directory is not on PATH."""

from .cli import main

main(prog_name="fusejit")
