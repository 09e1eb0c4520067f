"""Auth service of the sample shop: users, login, RS256 JWTs and their JWKS."""
