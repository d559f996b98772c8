"""``crowdcensus demo``: run the bundled example."""
