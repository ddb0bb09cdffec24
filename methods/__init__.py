"""Built-in unlearning methods, one module per method; each registers itself with @register_method."""
