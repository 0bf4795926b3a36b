"""What to migrate: the configuration file, its data types and columns, and the names it may use."""
