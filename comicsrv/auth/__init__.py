"""Authentication and authorisation shared by every API surface."""
from .decorators import require
from .principal import Principal, current_principal

__all__ = ["Principal", "current_principal", "require"]
