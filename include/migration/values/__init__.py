"""Values: column types, the checks a value must pass, SQL literals and the canonical text of rows, a column at a time."""
