"""Small repository functions: the only code that builds queries on the models."""
