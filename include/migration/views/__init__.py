"""What people look at: the fleet overview, the dashboard and the command line."""
