"""The consent ledger: which family agreed to share what with whom, and until when."""
