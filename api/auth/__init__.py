"""Authentication: local passwords, WindFlow JWTs, API tokens and external OIDC tokens."""
