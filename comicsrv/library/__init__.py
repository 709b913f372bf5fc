"""The library: libraries, the scanner, covers and pages."""
