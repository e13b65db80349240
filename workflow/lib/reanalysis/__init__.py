"""File-facing logic of the pipeline: reading and validating inputs, the audit, summaries, the report."""
