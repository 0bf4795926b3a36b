"""The views: the fleet report here; the overview, CLI and dashboard tests share one migrated fleet in `dashboard/`."""
