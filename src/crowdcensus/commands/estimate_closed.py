"""``crowdcensus estimate closed``."""
