"""年清算 year-end DIP clearing (pure maths in dip_math) and the year rollover."""
