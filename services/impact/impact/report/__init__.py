"""The council's impact report: figures (SQL), suppression of small numbers, and its JSON, CSV and HTML forms."""
