"""Public import paths for reading artifacts from Python; the formats live in secateurs.exporters."""
