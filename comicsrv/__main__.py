"""``python -m comicsrv``."""
from .cli import main

# Guarded: the scanner's worker processes (multiprocessing "spawn") import
# the main module, and must not run the CLI again.
if __name__ == "__main__":
    main()
