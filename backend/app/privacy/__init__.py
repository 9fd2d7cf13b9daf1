"""Personal data export and erasure requests."""
