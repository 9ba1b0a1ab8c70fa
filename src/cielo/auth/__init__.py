"""Bearer tokens of the project's own APIs (white-label and back office): scopes and checks."""
