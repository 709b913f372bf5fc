"""Authentication and authorisation shared by every API surface."""
from .declarations import changes_state_on_get
from .decorators import require
from .principal import Principal, current_principal

__all__ = ["Principal", "changes_state_on_get", "current_principal", "require"]
