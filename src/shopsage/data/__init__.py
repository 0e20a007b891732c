"""The data layer: schema, stores, importers, cleaning and splits."""
