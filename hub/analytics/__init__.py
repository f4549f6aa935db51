"""Analytics: anonymous aggregated counts for analysts, with disclosure control."""
