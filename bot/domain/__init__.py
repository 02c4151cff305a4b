"""The rules of supervision work. Nothing here imports telegram or the handlers."""
