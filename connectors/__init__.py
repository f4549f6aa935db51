"""Agency connectors: export files in, pseudonymised events out."""
