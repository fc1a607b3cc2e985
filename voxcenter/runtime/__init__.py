"""The running server: the parts wired together around calls."""
