"""The national platform's envelope (``infno``) as an entry point over the native use cases."""
