"""CI integration: JUnit XML for test reporters and the GitHub Actions step summary."""
