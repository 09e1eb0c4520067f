"""Orders service of the sample shop: orders in PostgreSQL, prices and stock from products."""
