"""``python -m semaudit`` (also what ``torchrun -m semaudit`` runs)."""

import sys

from semaudit.cli import main

if __name__ == "__main__":
    sys.exit(main())
