"""``python -m quarch``: the same as the ``quarch`` command."""

from quarch.cli import command

if __name__ == "__main__":
    command()
