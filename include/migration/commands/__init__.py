"""The make targets' entry points: settings, demo and up."""
