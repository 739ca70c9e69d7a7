"""Clearing answers are documents (see yibao.clearing.year_end.render); no request bodies."""
