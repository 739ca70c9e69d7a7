"""HTTP routes, one module per noun; thin: parse, call the core, shape the answer."""
