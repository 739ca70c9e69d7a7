"""Fund reports are rendered by yibao.ledger.reports; no request bodies."""
