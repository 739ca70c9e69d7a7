"""Precision and recall of the post-settlement models on a synthetic year (``yibao monitor evaluate``)."""
