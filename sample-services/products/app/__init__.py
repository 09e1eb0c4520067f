"""Products service of the sample shop: the catalog and its stock, in MongoDB."""
