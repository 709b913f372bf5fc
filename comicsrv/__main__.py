"""``python -m comicsrv``."""
from .cli import main

main()
