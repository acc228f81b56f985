"""Where raw data comes from: OpenStreetMap files, registries and the generated sample county."""
