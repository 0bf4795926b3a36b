"""The migration's steps, one module each: status, pre-flight, transfer, validation, convergence, write-back, reverse sync."""
