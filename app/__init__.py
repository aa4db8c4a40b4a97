"""Engine: an automation platform in which everything is a record."""
